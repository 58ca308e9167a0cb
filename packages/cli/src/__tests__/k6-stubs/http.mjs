import { state } from './state.mjs';
function get(url, params) {
  state.requests.push({ url, params });
  const path = new URL(url).pathname;
  const r = state.responses[path] ?? { status: 404, body: '{"error":"not found"}' };
  return { status: r.status, body: r.body, json: () => JSON.parse(r.body) };
}
export default { get };
