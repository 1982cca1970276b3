/**
 * The calls of the interLink 0.6 wire that the API and every plugin both serve, each with
 * its methods and its one schema per route (validator, TypeScript type, and what
 * scripts/wire/openapi.ts documents), declared once so the two servers cannot drift. A
 * server adds its handler: `app.route({ ...WIRE_ROUTES.delete, handler })`. `/create` is
 * not here: its body differs (PodCreateRequests into the API, RetrievedPodData into a plugin).
 */
import type { z } from 'zod';
import {
  DeleteResponse,
  LogStruct,
  PodList,
  PodStatusList,
  PodStatusQuery,
  TextStream,
} from './interlink.ts';
import { Pod } from './k8s.ts';

type Method = 'GET' | 'POST' | 'DELETE';

const route = <B extends z.ZodType, A extends z.ZodType>(
  method: Method[],
  url: string,
  body: B,
  answer: A,
) => ({
  method,
  url,
  schema: { body, response: { 200: answer } },
});

export const WIRE_ROUTES = {
  /** interLink 0.6 callers send DELETE, ours POST. Answer: text, or a DeleteAnswer. */
  delete: route(['DELETE', 'POST'], '/delete', Pod, DeleteResponse),
  /** No body, or JSON `null` (Go marshals an empty slice so), is an empty list. */
  status: route(['GET', 'POST'], '/status', PodList.nullish(), PodStatusList),
  getLogs: route(['GET', 'POST'], '/getLogs', LogStruct, TextStream),
};

/**
 * `/status` as the interLink API serves it: the same methods and answer, the body checked
 * as a PodStatusQuery (identity and container names) and forwarded to the plugin as sent;
 * the plugin validates it whole with WIRE_ROUTES.status.
 */
export const API_STATUS_ROUTE = route(['GET', 'POST'], '/status', PodStatusQuery.nullish(), PodStatusList);
