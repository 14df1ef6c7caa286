import { splitState } from '../../../src/core/state-res/split';
import { stateKey } from '../../../src/core/types';
import { readable } from './helpers';

const T = stateKey('m.room.topic', '');
const N = stateKey('m.room.name', '');
const M = stateKey('m.room.member', '@z:example.com');

describe('splitState', () => {
  it('puts a key in the unconflicted map when every state set holds the same event for it', () => {
    const s = splitState([new Map([[N, '$n'], [T, '$t1']]), new Map([[N, '$n'], [T, '$t2']])]);
    expect(readable(s.unconflicted)).toEqual({ 'm.room.name|': '$n' });
    expect([...s.conflictedKeys]).toEqual([T]);
  });

  it('returns a set of events, each once, when three state sets disagree two to one', () => {
    const s = splitState([new Map([[T, '$x']]), new Map([[T, '$y']]), new Map([[T, '$x']])]);
    expect([...s.conflicted].sort()).toEqual(['$x', '$y']);
    expect(s.unconflicted.size).toBe(0);
  });

  it('conflicts a key when some state sets lack it', () => {
    const s = splitState([new Map([[N, '$n'], [M, '$m']]), new Map([[N, '$n']])]);
    expect([...s.conflicted]).toEqual(['$m']);
    expect(readable(s.unconflicted)).toEqual({ 'm.room.name|': '$n' });
  });

  it('keeps the same event under different keys apart when it is conflicted under one only', () => {
    // Malformed input, but the conflicted set is still a set of event IDs.
    const s = splitState([new Map([[T, '$e'], [N, '$e']]), new Map([[T, '$e'], [N, '$f']])]);
    expect(readable(s.unconflicted)).toEqual({ 'm.room.topic|': '$e' });
    expect([...s.conflicted].sort()).toEqual(['$e', '$f']);
  });
});
