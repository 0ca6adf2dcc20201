/*
 * The whole user space of the test initramfs: /init says which kernel it runs on, then asks
 * the kernel to restart the machine, which `qemu -no-reboot` turns into qemu's exit.
 * (Power-off would need ACPI, which the tiny configuration leaves out.)
 *
 * No libc, so it needs nothing from the kernel but a few x86_64 system calls:
 *   gcc -static -nostdlib -ffreestanding -fno-stack-protector -Os -o init init.c
 * (-ffreestanding: or gcc turns the loop in length() into a call to libc's strlen)
 */

#define SYS_write 1
#define SYS_open 2
#define SYS_uname 63
#define SYS_reboot 169
#define O_WRONLY 1
#define REBOOT_MAGIC1 0xfee1deadL
#define REBOOT_MAGIC2 672274793L
#define REBOOT_CMD_RESTART 0x01234567L

/* struct utsname of the system call: six fields of 65 bytes. */
struct utsname {
    char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

static long syscall4(long n, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static unsigned long length(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static void say(long fd, const char *s)
{
    syscall4(SYS_write, fd, (long)s, (long)length(s), 0);
}

int main(void)
{
    static struct utsname uts;
    long console = syscall4(SYS_open, (long)"/dev/console", O_WRONLY, 0, 0);
    if (console < 0)
        console = 1;
    syscall4(SYS_uname, (long)&uts, 0, 0, 0);
    say(console, "dockerlab init: hello from user space, uname -r is ");
    say(console, uts.release);
    say(console, "\n");
    syscall4(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_RESTART, 0);
    say(console, "dockerlab init: the kernel refused to restart\n");
    return 1;
}

/* The entry point: align the stack as the ABI wants for a call, run main, exit with its value
 * (only reached when the restart was refused: as PID 1 that panics the kernel, visibly). */
__asm__(".globl _start\n"
        "_start:\n"
        "    xor %rbp, %rbp\n"
        "    and $-16, %rsp\n"
        "    call main\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n"
        "    syscall\n");
