#!/bin/sh
# Builds a tiny Linux kernel from Debian's linux-source-6.12 and an initramfs for it, into the
# directory given as $1: bzImage, init.cpio, kernel.release, config; and the same sources as
# User-mode Linux, `linux`, a kernel that runs as an ordinary process.
# Run by `cargo xtask kernel` in the kernel-builder container; plain user-space work: unpack,
# configure, compile. Nothing here needs privileges, or the host's kernel.
set -eu
out=${1:?usage: build-kernel.sh OUTPUT-DIR}
here=$(dirname "$0")
work=$(mktemp -d)
step() { printf '==> %s\n' "$*"; }

step "unpacking /usr/src/linux-source-6.12.tar.xz"
tar -xf /usr/src/linux-source-6.12.tar.xz -C "$work"
cd "$work/linux-source-6.12"

# tinyconfig is the smallest configuration that builds; add what booting under qemu to a line
# on the serial console needs: a 64-bit kernel, printk, the 8250 UART as console, an initramfs
# (uncompressed cpio, always understood) and a way to run our static ELF /init.
step "configuring: make tinyconfig + serial console and initramfs"
# (its merge report is long and says nothing here; errors still reach stderr)
make -s ARCH=x86_64 tinyconfig >/dev/null
options="64BIT PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD BINFMT_ELF BINFMT_SCRIPT"
for option in $options; do
    scripts/config --enable "$option"
done
make -s ARCH=x86_64 olddefconfig
for option in $options; do
    grep -qx "CONFIG_$option=y" .config || { echo "CONFIG_$option did not stay enabled" >&2; exit 1; }
done

step "compiling with make -j$(nproc) bzImage"
# A fixed user and host in the banner instead of the container's random hostname.
make ARCH=x86_64 KBUILD_BUILD_USER=dockerlab KBUILD_BUILD_HOST=kernel-builder -j"$(nproc)" bzImage

step "building the initramfs: a static /init in a cpio archive"
gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie -Os -Wall -Werror \
    -o "$work/init" "$here/init.c"
gcc -O2 -o "$work/gen_init_cpio" usr/gen_init_cpio.c
# gen_init_cpio writes the device node itself, so no root is needed for /dev/console.
printf '%s\n' \
    "dir /dev 0755 0 0" \
    "nod /dev/console 0600 0 0 c 5 1" \
    "file /init $work/init 0755 0 0" \
    > "$work/initramfs.list"
"$work/gen_init_cpio" "$work/initramfs.list" > "$work/init.cpio"

cp arch/x86/boot/bzImage "$work/init.cpio" "$out/"
cp .config "$out/config"
make -s ARCH=x86_64 kernelrelease > "$out/kernel.release"
step "built Linux $(cat "$out/kernel.release"): $(wc -c < arch/x86/boot/bzImage) bytes of bzImage"

# User-mode Linux: the same sources built for ARCH=um are a Linux program that runs a Linux
# kernel as an ordinary process (its user space runs as ptraced child processes), so it runs in
# a container (answers.md, section 3). tinyconfig again, plus printk, a console on the process's
# own stdout (and the null channel for the consoles it does not use), initramfs support and ELF
# binaries: the same init.cpio boots it.
step "configuring User-mode Linux: make ARCH=um tinyconfig + console and initramfs"
make -s ARCH=x86_64 mrproper
make -s ARCH=um SUBARCH=x86_64 tinyconfig >/dev/null
options="PRINTK TTY STDERR_CONSOLE NULL_CHAN BLK_DEV_INITRD BINFMT_ELF"
for option in $options; do
    scripts/config --enable "$option"
done
make -s ARCH=um SUBARCH=x86_64 olddefconfig
for option in $options; do
    grep -qx "CONFIG_$option=y" .config || { echo "CONFIG_$option did not stay enabled" >&2; exit 1; }
done
step "compiling User-mode Linux with make ARCH=um -j$(nproc) linux"
make ARCH=um SUBARCH=x86_64 KBUILD_BUILD_USER=dockerlab KBUILD_BUILD_HOST=kernel-builder -j"$(nproc)" linux
cp linux "$out/linux"
step "built User-mode Linux $(make -s ARCH=um SUBARCH=x86_64 kernelrelease): $(wc -c < linux) bytes of linux"
