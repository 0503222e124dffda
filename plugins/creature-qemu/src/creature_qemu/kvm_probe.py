"""Does /dev/kvm really run guests? A vCPU runs a few bytes of real-mode code in a child process under an alarm.

Run as `python -m creature_qemu.kvm_probe`: prints one line and exits 0 when the vCPU reached the
expected port I/O exit, non-zero with the reason otherwise. A /dev/kvm that opens and creates VMs
but never runs the vCPU (KVM-PVM, broken nesting) hangs in KVM_RUN: the alarm ends that child,
never creature.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import signal
import struct
import sys

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = 0x4020AE46
KVM_RUN = 0xAE80
KVM_SET_REGS = 0x4090AE82
KVM_GET_SREGS = 0x8138AE83
KVM_SET_SREGS = 0x4138AE84
KVM_EXIT_IO = 2
KVM_EXIT_NAMES = {0: "unknown", 2: "io", 5: "hlt", 6: "mmio", 8: "shutdown", 9: "fail_entry", 17: "internal_error"}

PORT, VALUE = 0x10, 0x42
# A real vCPU runs this loop in ~10 ms; KVM-PVM here emulates ~1 us per step (10 s), so the alarm tells them apart.
LOOPS = 10_000_000
GUEST_ADDR = 0x1000
# mov ecx, LOOPS; 1: dec ecx; jnz 1b; mov al, VALUE; out PORT, al; hlt  (16-bit code, 32-bit operands)
CODE = bytes([0x66, 0xB9, *LOOPS.to_bytes(4, "little"), 0x66, 0x49, 0x75, 0xFC, 0xB0, VALUE, 0xE6, PORT, 0xF4])
ALARM_SECONDS = 0.5


def _ioctl(fd: int, request: int, arg=0) -> int:
    return fcntl.ioctl(fd, request, arg)


def run_vcpu(device: str = "/dev/kvm") -> tuple[bool, str]:
    """Create a VM and a vCPU, run CODE, and say whether it exited with the expected port write."""
    kvm = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    version = _ioctl(kvm, KVM_GET_API_VERSION)
    if version != 12:
        return False, f"{device} speaks KVM API {version}, not 12"
    vm = _ioctl(kvm, KVM_CREATE_VM, 0)
    memory = mmap.mmap(-1, 0x1000, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, mmap.PROT_READ | mmap.PROT_WRITE)
    memory[: len(CODE)] = CODE
    address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    region = struct.pack("<IIQQQ", 0, 0, GUEST_ADDR, 0x1000, address)
    _ioctl(vm, KVM_SET_USER_MEMORY_REGION, region)
    vcpu = _ioctl(vm, KVM_CREATE_VCPU, 0)
    size = _ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)
    run = mmap.mmap(vcpu, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    sregs = bytearray(312)
    fcntl.ioctl(vcpu, KVM_GET_SREGS, sregs, True)
    struct.pack_into("<Q", sregs, 0, 0)  # cs.base
    struct.pack_into("<H", sregs, 12, 0)  # cs.selector
    _ioctl(vcpu, KVM_SET_SREGS, bytes(sregs))
    regs = [0] * 18
    regs[16], regs[17] = GUEST_ADDR, 0x2  # rip, rflags (bit 1 is always set)
    _ioctl(vcpu, KVM_SET_REGS, struct.pack("<18Q", *regs))
    _ioctl(vcpu, KVM_RUN, 0)
    reason, = struct.unpack_from("<I", run, 8)
    if reason != KVM_EXIT_IO:
        return False, f"the test vCPU exited with {KVM_EXIT_NAMES.get(reason, reason)} instead of port I/O"
    direction, width, port, count, offset = struct.unpack_from("<BBHIQ", run, 32)
    value = run[offset]
    if (direction, width, port, value) != (1, 1, PORT, VALUE):
        return False, f"the test vCPU wrote {value:#x} to port {port:#x}, expected {VALUE:#x} to {PORT:#x}"
    return True, f"a test vCPU ran real-mode code to its port write (KVM API {version})"


def _timeout(_signum, _frame):
    print(f"/dev/kvm opens and creates a VM, but a test vCPU did not run {LOOPS:,} loop steps within {ALARM_SECONDS:g} s"
          " (a real vCPU needs ~10 ms)")
    sys.stdout.flush()
    os._exit(3)


def main() -> int:
    signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, ALARM_SECONDS)
    try:
        ok, reason = run_vcpu()
    except OSError as exc:
        ok, reason = False, f"/dev/kvm: {exc.strerror or exc}"
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
