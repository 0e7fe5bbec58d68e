import express, { type RequestHandler } from 'express';
import { describeBytes, problemOf, sendProblem } from '../security/http-errors';

/**
 * The largest callback body each receiver reads, sized to what the provider really sends with room to spare; a
 * larger one is answered 413 before any of it is verified, parsed or stored.
 * - ETC: four fields of at most 32, 32, 32 and 128 characters (about 300 bytes).
 * - Tencent: `{"encrypt":…}` of one message; the largest, a CancelFlows result for 100 flows with a reason each,
 *   is well under 100 KB once encrypted and Base64-encoded.
 * - e签宝: one action's JSON; a rescission names at most 10 files and 200 characters of notes.
 * - Yuansfer: a form of about ten short fields (the note, the longest, is at most 1,024 characters here).
 */
export const CALLBACK_BODY_LIMITS = {
  ETC: 8 * 1024,
  TENCENT_ESS: 256 * 1024,
  ESIGN: 64 * 1024,
  YUANSFER: 16 * 1024,
} as const;

/**
 * Reads the raw body (any media type: providers label theirs loosely) into `req.body` as a Buffer, then runs
 * `handler`. A body over `limitBytes`, or one that cannot be read, is answered here with a JSON error
 * (`{"code","message"}`), inside the caller's observation so it is counted as refused.
 */
export function withCallbackBody(limitBytes: number, handler: RequestHandler): RequestHandler {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  return async (req, res, next) => {
    const failure = await new Promise<unknown>((resolve) => raw(req, res, (error?: unknown) => resolve(error)));
    if (failure !== undefined) {
      const problem = problemOf(failure, undefined);
      if (problem.status >= 500) {
        next(failure);
        return;
      }
      sendProblem(req, res, problem.code === 'PAYLOAD_TOO_LARGE' ? { ...problem, message: `the body is larger than ${describeBytes(limitBytes)}, the most this callback ever needs` } : problem);
      return;
    }
    await handler(req, res, next);
  };
}
