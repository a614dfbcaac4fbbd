#!/bin/busybox sh
# /init of the kernel-e2e initrd (tests/kernel/run.sh): load every module, provoke the traces
# the judge checks (tests/kernel/judge.py), print every task's stack, power off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /mnt /tmp
echo "E2E-BEGIN $(uname -r) $(uname -m)"
# insmod in passes: a module whose dependencies are not loaded yet fails and is retried.
todo=$(cat /modules.list)
for pass in 1 2 3 4; do
	left=
	for m in $todo; do
		insmod "/modules/$m" 2>/dev/null || left="$left $m"
	done
	todo=$left
done
for m in $todo; do echo "E2E-INSMOD-FAILED $m"; done
echo "E2E-MODULES $(wc -l </proc/modules) loaded"
if [ -f /modules/lineinfo_kunit.ko ]; then
	echo "E2E-KUNIT-MODULE"
	insmod /modules/lineinfo_kunit.ko
	echo "E2E-KUNIT-MODULE-END"
fi
echo "E2E-TRACE own module (.text, .text.unlikely, .init.text)"
insmod /modules/lineinfo_e2e.ko
echo "E2E-TRACE lkdtm WARNING"
echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT
echo "E2E-TRACE sysrq l"
echo l >/proc/sysrq-trigger
sleep 1
echo "E2E-TRACE ext4 on loop, lkdtm HUNG_TASK, /proc/*/stack"
if losetup /dev/loop0 /ext4.img 2>/dev/null && mount -t ext4 /dev/loop0 /mnt; then
	echo hello >/mnt/file && sync
else
	echo "E2E-NOTE ext4 mount failed"
fi
echo HUNG_TASK >/sys/kernel/debug/provoke-crash/DIRECT &
sleep 2
for p in /proc/[0-9]*; do
	[ -r "$p/stack" ] || continue
	echo "E2E-STACK ${p#/proc/} $(cat "$p/comm" 2>/dev/null)"
	cat "$p/stack" 2>/dev/null
done
echo "E2E-END"
reboot -f
