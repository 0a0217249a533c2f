// The line protocol between a relying-party script and the Python test that drives it:
// the script writes one JSON object per line to stdout; the test answers on stdin.
import { createInterface } from "node:readline"

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

export function emit(message) {
  process.stdout.write(JSON.stringify(message) + "\n")
}

export async function receive() {
  const { value, done } = await lines.next()
  if (done) throw new Error("stdin closed before the test answered")
  return JSON.parse(value)
}

// An error and the chain of its causes, as JSON can carry them (an Error's own fields are
// not enumerable).
function describe(error) {
  if (!(error instanceof Error)) return error ?? null
  return { ...error, error: String(error), code: error.code, cause: describe(error.cause) }
}

// Run `main` and report its failure as a JSON line (exit code 1), never a bare stack trace.
export async function run(main) {
  try {
    await main()
    process.exit(0)
  } catch (error) {
    emit(describe(error))
    process.exit(1)
  }
}
