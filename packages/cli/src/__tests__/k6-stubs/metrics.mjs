import { state } from './state.mjs';
class Metric {
  constructor(name) {
    this.name = name;
    state.metrics[name] = [];
  }
  add(value) {
    if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${this.name}: not a number: ${value}`);
    state.metrics[this.name].push(value);
  }
}
export class Trend extends Metric {}
export class Gauge extends Metric {}
export class Counter extends Metric {}
export class Rate extends Metric {}
