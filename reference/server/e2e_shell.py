#!/usr/bin/python3
"""e2e_shell.py HARMONYD - end-to-end checks of harmonyd's I/O shell over raw sockets.

What the conformance suite does not reach directly: partial writes (a reader that stops
reading while pipelined answers pile up, then drains them), every pong of a ping burst in
order, the 1009 close on a declared length alone, a client close echoed, HTTP pipelining,
411 / 413 / 400 answers, the 101 answer's headers, SIGTERM with 1001 and exit 0 in < 1 s.
Exit status 0 when every check passed; each failure is printed.
"""
import base64
import hashlib
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def frame(op, payload, fin=True, mask=b"\x11\x22\x33\x44"):
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    if n < 126:
        h = bytes([b0, 0x80 | n])
    elif n <= 0xFFFF:
        h = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def recv_exact(s, n, timeout=5.0):
    out = b""
    end = time.time() + timeout
    while len(out) < n:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
        if not r:
            raise TimeoutError("timeout")
        d = s.recv(n - len(out))
        if not d:
            raise EOFError("closed")
        out += d
    return out


def read_frame(s, timeout=5.0):
    h = recv_exact(s, 2, timeout)
    op, n = h[0] & 0x0F, h[1] & 0x7F
    if h[1] & 0x80:
        raise ValueError("server frame masked")
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    return op, recv_exact(s, n, timeout)


def ws_open(port, extra=""):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /any?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (key, extra)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += recv_exact(s, 1)
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    return s, head.decode("latin-1"), want.decode()


def http_raw(port, data, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    out = b""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            d = s.recv(65536)
            if not d:
                break
            out += d
    s.close()
    return out


def main():
    binary = sys.argv[1]
    # a second argument "thread": every flush goes through the writer thread
    if len(sys.argv) > 2 and sys.argv[2] == "thread":
        os.environ["HARMONYD_WRITER_MIN"] = "1"
        print("# HARMONYD_WRITER_MIN=1: the writer thread writes every flush")
    # "async": the pipelined group commit (sync thread) gates every output
    if len(sys.argv) > 2 and sys.argv[2] == "async":
        os.environ["HARMONYD_ASYNC_SYNC"] = "1"
        print("# HARMONYD_ASYNC_SYNC=1: output waits for the sync thread")
    data = tempfile.mkdtemp(prefix="hm-e2e-shell-")
    p = subprocess.Popen([binary, "--port", "0", "--data-dir", data, "--keepalive-ms", "0", "--log-level", "warn"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.match(r"harmonyd ready ws://127\.0\.0\.1:(\d+) http://127\.0\.0\.1:(\d+)", line)
        check(bool(m), "ready line: %r" % line)
        if not m:
            return
        wp, hp = int(m.group(1)), int(m.group(2))

        s, head, want = ws_open(wp, "Sec-WebSocket-Protocol: first, second\r\n"
                                    "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        check(head.startswith("HTTP/1.1 101"), "101 answer")
        check(("Sec-WebSocket-Accept: %s\r\n" % want) in head, "Sec-WebSocket-Accept")
        check("Sec-WebSocket-Protocol: first\r\n" in head, "first subprotocol echoed")
        check("Extensions" not in head, "no extension accepted")
        # 50 pings in one write: 50 pongs, in order
        s.sendall(b"".join(frame(0x9, b"burst-%02d" % i) for i in range(50)))
        pongs = [read_frame(s) for _ in range(50)]
        check(all(op == 0xA for op, _ in pongs) and [d for _, d in pongs] == [b"burst-%02d" % i for i in range(50)],
              "every ping answered in order")
        # fragmented text message with a ping between the fragments: answered (AUTH_REQUIRED)
        s.sendall(frame(0x1, b'{"id":"f1","type":', fin=False) + frame(0x9, b"mid") +
                  frame(0x0, b'"community.list","payload":{}}'))
        op1, d1 = read_frame(s)
        op2, d2 = read_frame(s)
        check(op1 == 0xA and d1 == b"mid" and op2 == 0x1 and b"AUTH_REQUIRED" in d2, "fragments reassembled")
        # client close is echoed
        s.sendall(frame(0x8, struct.pack(">H", 3001) + b"bye"))
        op, d = read_frame(s)
        check(op == 0x8 and d[:2] == struct.pack(">H", 3001), "close echoed with the client's code")
        s.close()

        # a declared length over 1 MiB closes with 1009 before any payload arrives
        s, _, _ = ws_open(wp)
        s.sendall(bytes([0x81, 0x80 | 127]) + struct.pack(">Q", (1 << 20) + 1) + b"\x01\x02\x03\x04")
        op, d = read_frame(s)
        check(op == 0x8 and d[:2] == struct.pack(">H", 1009), "1009 on the header alone")
        s.close()
        # unmasked client frame: 1002
        s, _, _ = ws_open(wp)
        s.sendall(bytes([0x81, 0x02]) + b"hi")
        op, d = read_frame(s)
        check(op == 0x8 and d[:2] == struct.pack(">H", 1002), "1002 on an unmasked frame")
        s.close()

        # plain HTTP on the WebSocket port: 426
        out = http_raw(wp, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        check(out.startswith(b"HTTP/1.1 426"), "426 on the WebSocket port")

        # HTTP pipelining, keep-alive, then Connection: close
        out = http_raw(hp, b"GET /health HTTP/1.1\r\n\r\nOPTIONS /x HTTP/1.1\r\n\r\n"
                           b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
        st = re.findall(rb"HTTP/1\.1 (\d+)", out)
        check(st == [b"200", b"204", b"404"], "pipelined answers %r" % st)
        check(out.count(b"x-content-type-options: nosniff") == 2, "security headers on non-OPTIONS answers")
        # chunked: 411; malformed: 400; oversized declared body: 413 and close
        check(http_raw(hp, b"POST /api/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
              .startswith(b"HTTP/1.1 411"), "411 on chunked")
        check(http_raw(hp, b"GET / HTTP/1.1\nHost: h\n\n").startswith(b"HTTP/1.1 400"), "400 on bare LF")
        out = http_raw(hp, b"POST /api/user-data/upload HTTP/1.1\r\nContent-Length: 5242881\r\n\r\n" + b"x" * 70000)
        check(out.startswith(b"HTTP/1.1 413") and b"Request body too large" in out, "413 on a body over 5 MiB")

        # partial writes and back-pressure: 40000 pipelined /health requests (about 10 MB of
        # answers, far over the 1 MiB of pending output at which the server stops reading)
        N = 40000
        s = socket.create_connection(("127.0.0.1", hp))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        req = b"GET /health HTTP/1.1\r\n\r\n" * N
        s.setblocking(False)
        sent, cnt, tail = 0, 0, b""
        end = time.time() + 60

        def take(d):
            nonlocal cnt, tail
            buf = tail + d
            cnt += buf.count(b"HTTP/1.1 200")
            tail = buf[-11:]

        while sent < len(req) and time.time() < end:  # the server stops reading meanwhile
            try:
                sent += s.send(req[sent:sent + 65536])
            except BlockingIOError:
                r, _, _ = select.select([s], [], [], 0.05)
                if r:
                    take(s.recv(1 << 20))
        time.sleep(0.3)
        while cnt < N and time.time() < end:
            r, _, _ = select.select([s], [], [], 0.5)
            if r:
                d = s.recv(1 << 20)
                if not d:
                    break
                take(d)
        check(cnt == N, "%d pipelined answers through partial writes and paused reading (%d)" % (N, cnt))
        s.close()

        # pings whose pongs are never read: past 8 MiB of pending output the server closes 1008
        s, _, _ = ws_open(wp)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        ping = frame(0x9, b"p" * 125)
        s.setblocking(False)
        blob = ping * 250000  # the kernel buffers absorb a good part of it
        total = 0
        while total < len(blob) and time.time() < end:
            try:
                total += s.send(blob[total:total + 262144])
            except BlockingIOError:
                time.sleep(0.005)
            except OSError:
                break
        s.setblocking(True)
        s.settimeout(10)
        buf, code = b"", None
        try:  # parse server frames from big reads (8 MiB of pongs come first)
            while code is None:
                d = s.recv(1 << 20)
                if not d:
                    break
                buf += d
                i = 0
                while len(buf) - i >= 2:
                    op, n = buf[i] & 0x0F, buf[i + 1] & 0x7F
                    h = 2
                    if n == 126:
                        if len(buf) - i < 4:
                            break
                        n, h = struct.unpack(">H", buf[i + 2:i + 4])[0], 4
                    if len(buf) - i < h + n:
                        break
                    if op == 0x8:
                        code = struct.unpack(">H", buf[i + h:i + h + 2])[0]
                        break
                    i += h + n
                buf = buf[i:]
        except (OSError, socket.timeout) as e:
            print("  (%s)" % e)
        check(code == 1008, "unread pongs: close %s (expected 1008)" % code)
        s.close()

        # SIGTERM: 1001 on open connections, exit 0 within 1 s
        s, _, _ = ws_open(wp)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        op, d = read_frame(s)
        check(op == 0x8 and d[:2] == struct.pack(">H", 1001), "1001 on shutdown")
        rc = p.wait(timeout=5)
        check(rc == 0 and time.time() - t0 < 1.0, "exit %s after %.2f s" % (rc, time.time() - t0))
        s.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", data])
    print("%d failure(s)" % len(FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
