# expect: {"status": 422, "error_type": "crashed", "error_one_of": ["Script crashed: killed by signal SIGSYS", "Script crashed: killed by signal SIGSEGV"]}
# The i386 ABI through `int 0x80` (another syscall table, other numbers):
# a filter for x86_64 does not cover it, so any such call kills the process
# with SIGSYS (or, where the kernel or hypervisor offers no int 0x80 at
# all, as on the PVM host this was written on, SIGSEGV). Machine code for `mov eax, 20 (getpid); int 0x80; ret` is run
# from an anonymous executable mapping.
import ctypes
import mmap


def main():
    code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    rc = ctypes.CFUNCTYPE(ctypes.c_int)(addr)()
    return {"survived": True, "rc": rc}
