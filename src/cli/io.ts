/** Where a command writes: results on stdout, progress and messages on stderr, so stdout pipes cleanly. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}
