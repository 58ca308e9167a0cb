// What the k6 stubs record, for the test to read: checks, HTTP requests, metric samples, Kafka writes.
export const state = {
  checks: [],
  requests: [],
  metrics: {},
  writers: [],
  produced: [],
  topicsCreated: [],
  iterationInTest: 0,
  /** path (without query) -> { status, body } */
  responses: {},
};
