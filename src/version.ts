/** Doorstep's own name and version (tsc copies package.json next to the build). */
import pkg from '../package.json';
export const SERVER_SOFTWARE = { name: 'Doorstep', version: pkg.version } as const;
