/**
 * onnxruntime 1.30's Linux build starts a telemetry system with the first session: it writes a
 * persistent device id and an event store (`~/.cache/Microsoft/DeveloperTools/.onnxruntime/`,
 * `onnxruntime.db`, several MB and growing, on the device's SD card) and uploads to a Microsoft
 * collector (`mobile.events.data.microsoft.com`) — on a camera device on someone's network, and
 * with one more thread. It reads `ORT_DISABLE_TELEMETRY` from the process environment when it
 * starts, so the variable must be in the real environment before the first session of the process
 * (set from the main thread: a worker's `process.env` is a copy). An operator's own value
 * (`ORT_DISABLE_TELEMETRY=0` to allow it) is kept. Children inherit it.
 */
export function disableOnnxruntimeTelemetry(env: Record<string, string | undefined> = process.env): void {
  if (env.ORT_DISABLE_TELEMETRY === undefined) env.ORT_DISABLE_TELEMETRY = '1';
}
