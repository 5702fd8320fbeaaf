#!/usr/bin/env python3
"""bench-limits.py USBPASSD USBPASS DEMO_UMOCKDEV: connections and descriptors

Starts usbpassd (test driver, the demo testbed, a store in a temporary
directory, TCP on 127.0.0.1), then:
  fd_after_10k_cli            descriptors of the daemon after 10,000 sequential
                              `usbpass list` calls over the Unix socket, minus
                              the count before (0: nothing leaks)
  cli_calls_per_s             the rate of those calls
  health_p99_idle_ms          p99 of GET /v1/health (1,000, a new connection
                              each) on a quiet daemon
  health_p99_under_idle_flood_ms
                              the same while 2,000 idle connections and 300
                              slowloris connections (a header that never ends)
                              are open, and the ratio of the two
  fd_after_flood              descriptors after the flood closed, minus before
BENCH_LIMITS_CLI_CALLS overrides the 10,000. Prints key=value lines; never
fails on time.
"""
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def wait_fd(pid, want, seconds=30):
    deadline = time.monotonic() + seconds
    while fd_count(pid) > want and time.monotonic() < deadline:
        time.sleep(0.01)
    return fd_count(pid)


def health_ms(port):
    start = time.perf_counter()
    with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
        s.sendall(b'GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
        data = b''
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b'HTTP/1.1 200'):
        print('# health answered: %r' % data[:40])
    return (time.perf_counter() - start) * 1000


def p99(samples):
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main():
    usbpassd, cli, demo = sys.argv[1:4]
    calls = int(os.environ.get('BENCH_LIMITS_CLI_CALLS', '10000'))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192 and hard >= 8192:
        resource.setrlimit(resource.RLIMIT_NOFILE, (8192, hard))
    work = tempfile.mkdtemp()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    sock = os.path.join(work, 'usbpassd.sock')
    with open(os.path.join(work, 'usbpassd.conf'), 'w') as conf:
        conf.write('[daemon]\nenabled=true\nhost=bench\nstore=%s/usbpass.db\nsocket=%s\n'
                   'socket-group=\nsocket-mode=0600\nlisten=127.0.0.1:%d\ndriver=test\n'
                   'log-level=warning\n' % (work, sock, port))
    wrapper = subprocess.Popen(['umockdev-run', '-d', demo, '--', usbpassd,
                                '--config=%s/usbpassd.conf' % work])
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health_ms(port)
                break
            except OSError:
                if time.monotonic() > deadline or wrapper.poll() is not None:
                    print('bench-limits: usbpassd did not start', file=sys.stderr)
                    return 1
                time.sleep(0.1)
        pid = int(subprocess.check_output(['ps', '-o', 'pid=', '--ppid', str(wrapper.pid)])
                  .split()[0])
        baseline = fd_count(pid)

        start = time.monotonic()
        for _ in range(calls):
            subprocess.run([cli, '--socket=%s' % sock, 'list'], stdout=subprocess.DEVNULL,
                           check=True)
        elapsed = time.monotonic() - start
        key = 'fd_after_10k_cli' if calls == 10000 else 'fd_after_%d_cli' % calls
        print('%s=%d' % (key, wait_fd(pid, baseline) - baseline))
        print('cli_calls_per_s=%.0f' % (calls / elapsed))

        quiet = [health_ms(port) for _ in range(1000)]
        print('health_p99_idle_ms=%.2f' % p99(quiet))
        flood = []
        for i in range(2300):
            s = socket.create_connection(('127.0.0.1', port), timeout=30)
            if i >= 2000:
                s.sendall(b'GET /v1/health HTTP/1.1\r\nHost: local')
            flood.append(s)
        busy = [health_ms(port) for _ in range(1000)]
        print('health_p99_under_idle_flood_ms=%.2f' % p99(busy))
        print('health_p99_flood_vs_idle_ratio=%.1f' % (p99(busy) / p99(quiet)))
        for s in flood:
            s.close()
        print('fd_after_flood=%d' % (wait_fd(pid, baseline) - baseline))
    finally:
        wrapper.send_signal(signal.SIGTERM)
        wrapper.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
