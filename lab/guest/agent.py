#!/usr/bin/env python3
# lab/guest/agent.py: runs lab/run's commands inside the lab's outer VM.
#
# Talks over the virtio-serial port "lab.agent" (a Unix socket on the host),
# one JSON object per line each way:
#   host:  {"id": N, "sh": "COMMAND", "timeout": SECONDS}
#   agent: {"id": N, "rc": STATUS, "out": STDOUT, "err": STDERR, "ms": DURATION}
#   host:  {"id": N, "op": "ping"}      -> {"id": N, "rc": 0, "uptime": S}
#   host:  {"id": N, "op": "poweroff"}  -> {"id": N, "rc": 0}, then the VM powers off
# COMMAND runs under bash, each in a thread of its own, so the host may have
# several running at once (a check starts a measurement here, then unplugs a
# device from the outer QEMU). A timeout kills COMMAND's process group; rc is
# then 124. The environment has the usbpass build on PATH (lab.build= of the
# kernel command line) and LAB_BUILD set.
import json
import os
import signal
import subprocess
import sys
import threading
import time

GUEST = os.path.dirname(os.path.abspath(__file__))


def port_path():
    for _ in range(600):
        if os.path.exists("/dev/virtio-ports/lab.agent"):
            return "/dev/virtio-ports/lab.agent"
        base = "/sys/class/virtio-ports"
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            try:
                with open(os.path.join(base, name, "name")) as f:
                    if f.read().strip() == "lab.agent":
                        return "/dev/" + name
            except OSError:
                pass
        time.sleep(0.1)
    sys.exit("agent: no virtio-serial port named lab.agent")


def environment():
    env = dict(os.environ)
    build = ""
    with open("/proc/cmdline") as f:
        for word in f.read().split():
            if word.startswith("lab.build="):
                build = word.split("=", 1)[1]
    path = [GUEST, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    if build:
        path[1:1] = [os.path.join(build, "src/cli"), os.path.join(build, "src/daemon")]
    env.update({"PATH": ":".join(path), "LAB_BUILD": build, "LAB_GUEST": GUEST, "HOME": "/root",
                "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
    return env


class Agent:
    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)
        self.lock = threading.Lock()
        self.env = environment()

    def send(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        with self.lock:
            while data:
                try:
                    n = os.write(self.fd, data)
                except OSError:
                    time.sleep(0.1)
                    continue
                data = data[n:]

    def run(self, req):
        rid = req.get("id")
        op = req.get("op")
        if op == "ping":
            with open("/proc/uptime") as f:
                self.send({"id": rid, "rc": 0, "uptime": float(f.read().split()[0])})
            return
        if op == "poweroff":
            self.send({"id": rid, "rc": 0})
            time.sleep(0.2)
            os.sync()
            os.execv("/bin/busybox", ["busybox", "poweroff", "-f"])
        start = time.monotonic()
        proc = subprocess.Popen(["bash", "-c", req.get("sh", "")], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                cwd="/root", start_new_session=True)
        try:
            out, err = proc.communicate(timeout=req.get("timeout", 300))
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            rc = 124
            err += b"\nagent: timed out\n"
        self.send({"id": rid, "rc": rc, "out": out.decode(errors="replace"),
                   "err": err.decode(errors="replace"),
                   "ms": (time.monotonic() - start) * 1000.0})

    def serve(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                # the host is not connected: the port reads as end of file
                time.sleep(0.1)
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    req = json.loads(line)
                except ValueError:
                    continue
                threading.Thread(target=self.run, args=(req,), daemon=True).start()


def main():
    Agent(port_path()).serve()


if __name__ == "__main__":
    main()
