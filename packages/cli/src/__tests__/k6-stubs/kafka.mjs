import { state } from './state.mjs';
export const BALANCER_ROUND_ROBIN = 'balancer_roundrobin';
export const SCHEMA_TYPE_STRING = 'STRING';
export class Writer {
  constructor(config) {
    state.writers.push(config);
  }
  produce({ messages }) {
    state.produced.push(...messages);
  }
  close() {}
}
export class Connection {
  constructor(config) {
    this.config = config;
  }
  listTopics() {
    return ['other'];
  }
  createTopic(config) {
    state.topicsCreated.push(config);
  }
  close() {}
}
export class SchemaRegistry {
  serialize({ data, schemaType }) {
    if (schemaType !== SCHEMA_TYPE_STRING || typeof data !== 'string') throw new TypeError('expected a STRING container');
    return data;
  }
}
