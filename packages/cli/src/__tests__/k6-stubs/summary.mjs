export function textSummary() {
  return 'k6 summary';
}
