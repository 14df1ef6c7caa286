/** serverAllowedByAcl (spec: m.room.server_acl, its five ordered rules; appendices "Glob-style matching"). */
import { globToRegExp, hostOf, serverAllowedByAcl } from '../../src/core/server-acl';

describe('serverAllowedByAcl', () => {
  it('allows every server when the room has no ACL (rule 1)', () => {
    expect(serverAllowedByAcl(undefined, 'evil.example')).toBe(true);
  });

  it('denies IP literals when allow_ip_literals is false (rule 2), and allows them when it is absent', () => {
    const acl = { allow: ['*'], allow_ip_literals: false };
    expect(serverAllowedByAcl(acl, '1.2.3.4:8448')).toBe(false);
    expect(serverAllowedByAcl(acl, '[::1]:8448')).toBe(false);
    expect(serverAllowedByAcl(acl, 'good.example')).toBe(true);
    expect(serverAllowedByAcl({ allow: ['*'] }, '1.2.3.4')).toBe(true);
  });

  it('denies a deny match even when allow matches too (rule 3 before 4)', () => {
    const acl = { allow: ['*'], deny: ['*.evil.example', 'evil.example'] };
    expect(serverAllowedByAcl(acl, 'evil.example')).toBe(false);
    expect(serverAllowedByAcl(acl, 'a.evil.example')).toBe(false);
    expect(serverAllowedByAcl(acl, 'notevil.example')).toBe(true);
  });

  it('ignores the port: evil.example:1234 matches evil.example', () => {
    expect(serverAllowedByAcl({ allow: ['*'], deny: ['evil.example'] }, 'evil.example:1234')).toBe(false);
    expect(serverAllowedByAcl({ allow: ['localhost'] }, 'localhost:8481')).toBe(true);
  });

  it('denies what no allow entry matches, and everything with an empty or missing allow list (rule 5)', () => {
    expect(serverAllowedByAcl({ allow: ['good.example'] }, 'other.example')).toBe(false);
    expect(serverAllowedByAcl({ deny: [] }, 'good.example')).toBe(false);
    expect(serverAllowedByAcl({ allow: [42, null] } as never, 'good.example')).toBe(false);
  });
});

describe('globToRegExp', () => {
  it('matches * as any run and ? as one character, over the whole string, other characters literally', () => {
    expect(globToRegExp('ma?rix.*').test('matrix.org')).toBe(true);
    expect(globToRegExp('ma?rix.*').test('mtrix.org')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('org').test('matrix.org')).toBe(false);
    expect(globToRegExp('(x)+').test('(x)+')).toBe(true);
  });
});

describe('hostOf', () => {
  it('drops the port of names, IPv4 and bracketed IPv6 literals', () => {
    expect(hostOf('example.org:8448')).toBe('example.org');
    expect(hostOf('example.org')).toBe('example.org');
    expect(hostOf('[::1]:80')).toBe('[::1]');
    expect(hostOf('1.2.3.4:5')).toBe('1.2.3.4');
  });
});
