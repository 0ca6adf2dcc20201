/*
 * The whole user space of the test initramfs: /init says which kernel it runs on, then asks
 * the kernel to restart the machine, which `qemu -no-reboot` turns into qemu's exit.
 * (Power-off would need ACPI, which the tiny configuration leaves out.) With the argument
 * `poweroff` (a word on the kernel command line) it powers off instead: User-mode Linux
 * restarts by running itself again, and exits on a power-off.
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
#define REBOOT_CMD_POWER_OFF 0x4321fedcL

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

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

int main(long argc, char **argv)
{
    static struct utsname uts;
    long cmd = argc > 1 && same(argv[1], "poweroff") ? REBOOT_CMD_POWER_OFF : REBOOT_CMD_RESTART;
    long console = syscall4(SYS_open, (long)"/dev/console", O_WRONLY, 0, 0);
    if (console < 0)
        console = 1;
    syscall4(SYS_uname, (long)&uts, 0, 0, 0);
    say(console, "dockerlab init: hello from user space, uname -r is ");
    say(console, uts.release);
    say(console, "\n");
    syscall4(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, cmd, 0);
    say(console, "dockerlab init: the kernel refused to stop\n");
    return 1;
}

/* The entry point: argc and argv from the stack, align it as the ABI wants for a call, run main,
 * exit with its value (only reached when the kernel refused: as PID 1 that panics it, visibly). */
__asm__(".globl _start\n"
        "_start:\n"
        "    xor %rbp, %rbp\n"
        "    mov (%rsp), %rdi\n"
        "    lea 8(%rsp), %rsi\n"
        "    and $-16, %rsp\n"
        "    call main\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n"
        "    syscall\n");
