import { ImportError } from './errors.js'

/**
 * Sequential reads over a byte stream for the tar reader: exact-length reads for headers and
 * a streaming body view for member contents, without copying content pieces more than once.
 */
export class ByteReader {
  readonly #it: AsyncIterator<Uint8Array>
  #buf: Uint8Array = new Uint8Array(0)
  #pos = 0
  #eof = false
  /** Bytes of the current member's padded body not yet consumed. */
  #bodyLeft = 0

  constructor (source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]()
  }

  async #fill (): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      if (this.#eof) return false
      const { value, done } = await this.#it.next()
      if (done === true) { this.#eof = true; return false }
      this.#buf = value
      this.#pos = 0
    }
    return true
  }

  /** Up to `n` bytes (fewer only at the end of the stream); undefined when none are left. */
  async read (n: number): Promise<Uint8Array | undefined> {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n && await this.#fill()) {
      const take = Math.min(n - got, this.#buf.length - this.#pos)
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), got)
      this.#pos += take
      got += take
    }
    if (got === 0) return undefined
    return got === n ? out : out.subarray(0, got)
  }

  /** Exactly `n` bytes, or ImportError(`message`). */
  async readExact (n: number, message: string): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0)
    const b = await this.read(n)
    if (b === undefined || b.length < n) throw new ImportError(message)
    return b
  }

  /** The next `size` bytes as a stream of pieces (views: copy to keep), in a `padded` region. */
  body (size: number, padded: number): AsyncIterable<Uint8Array> {
    this.#bodyLeft = padded
    let left = size
    const self = this
    return {
      async * [Symbol.asyncIterator] () {
        while (left > 0) {
          if (!await self.#fill()) throw new ImportError('tar stream truncated in a member body')
          const take = Math.min(left, self.#buf.length - self.#pos)
          const piece = self.#buf.subarray(self.#pos, self.#pos + take)
          self.#pos += take
          left -= take
          self.#bodyLeft -= take
          yield piece
        }
      }
    }
  }

  /** Skips what the consumer left of the current body and its padding. */
  async finishBody (): Promise<void> {
    while (this.#bodyLeft > 0) {
      if (!await this.#fill()) throw new ImportError('tar stream truncated in a member body')
      const take = Math.min(this.#bodyLeft, this.#buf.length - this.#pos)
      this.#pos += take
      this.#bodyLeft -= take
    }
  }
}
