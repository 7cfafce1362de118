import { createServer, type AddressInfo, type Socket } from 'node:net'
import { unmapIpv4, type TcpConnection, type TcpListener, type TcpListenOptions } from './tcp.js'

/** The node:net transport (streams): for hosts given by name, and where uv-tcp.ts is unavailable. */
export async function listenNet (options: TcpListenOptions): Promise<TcpListener> {
  // Half-open allowed: after the peer's EOF the owner still answers the calls in flight, then ends.
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => { acceptNet(socket, options.accept) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve() })
  })
  let closing: Promise<void> | undefined
  return {
    address: server.address() as AddressInfo,
    close: async () => await (closing ??= new Promise<void>((resolve) => { server.close(() => { resolve() }) }))
  }
}

function acceptNet (socket: Socket, accept: TcpListenOptions['accept']): void {
  const conn: TcpConnection = {
    remoteAddress: unmapIpv4(socket.remoteAddress ?? ''),
    remotePort: socket.remotePort ?? 0,
    get queuedBytes () { return socket.writableLength },
    get closed () { return socket.destroyed },
    write (pieces) {
      if (socket.destroyed || socket.writableEnded) return
      if (pieces.length === 1) { socket.write(pieces[0]!); return }
      socket.cork()
      for (const p of pieces) socket.write(p)
      socket.uncork()
    },
    pause () { socket.pause() },
    resume () { socket.resume() },
    end () { if (!socket.writableEnded) socket.end() },
    destroy () { socket.destroy() }
  }
  const h = accept(conn)
  socket.on('data', (chunk: Buffer) => { h.data(chunk) })
  socket.on('drain', () => { h.drain() })
  socket.on('end', () => { h.eof() })
  socket.on('error', () => { socket.destroy() })
  socket.on('close', () => { h.close() })
}

