/**
 * The mock's test/admin API, beside the plugin wire (never part of it):
 *
 *   GET    /mock/calls    create/delete calls per pod UID, status/logs/ping totals
 *   DELETE /mock/calls    reset the counters
 *   GET    /mock/faults   the injected failures in force
 *   POST   /mock/faults   replace them: {createFails?, deleteFails?, statusFails?, logsFails?,
 *                         pingFails?: boolean | message}; `{}` clears all
 *   GET    /mock/pods     the pods held, with their current phase
 *
 * Tests of the layers above use it to prove "exactly one create per pod UID" and to make
 * the backend fail deletes or status calls.
 */
import { z } from 'zod';
import type { ZodApp } from '../../core/http-server.ts';
import type { MockPlugin } from './plugin.ts';

const FaultValue = z.union([z.boolean(), z.string().min(1)]);

/** Strict: a misspelt fault name is a 400, not a silently ignored key. */
export const FaultsBody = z.strictObject({
  createFails: FaultValue.optional(),
  deleteFails: FaultValue.optional(),
  statusFails: FaultValue.optional(),
  logsFails: FaultValue.optional(),
  pingFails: FaultValue.optional(),
});

export const CallCountsBody = z.object({
  create: z.record(z.string(), z.number().int()),
  delete: z.record(z.string(), z.number().int()),
  status: z.number().int(),
  statusPods: z.number().int(),
  logs: z.number().int(),
  ping: z.number().int(),
});

export const MockPodsBody = z.array(
  z.object({
    uid: z.string(),
    namespace: z.string(),
    name: z.string(),
    jid: z.string(),
    createdAt: z.string(),
    phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']),
  }),
);

export function mockAdminRoutes(app: ZodApp, mock: MockPlugin): void {
  app.get('/mock/calls', { schema: { response: { 200: CallCountsBody } } }, async () => mock.calls());
  app.delete('/mock/calls', async (_req, reply) => {
    mock.resetCalls();
    return reply.status(204).send();
  });
  app.get('/mock/faults', { schema: { response: { 200: FaultsBody } } }, async () => mock.faults());
  app.post(
    '/mock/faults',
    { schema: { body: FaultsBody.optional(), response: { 200: FaultsBody } } },
    async (req) => {
      mock.setFaults(req.body ?? {});
      return mock.faults();
    },
  );
  app.get('/mock/pods', { schema: { response: { 200: MockPodsBody } } }, async () => mock.pods());
}
