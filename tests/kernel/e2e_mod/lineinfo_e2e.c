// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * A module whose traces pass through code the compiler puts outside .text (built -O2, see
 * the Makefile): a function with gcc's cold attribute (.text.unlikely; the kernel's __cold
 * is empty when CONFIG_FUNCTION_ALIGNMENT is set and gcc cannot align cold code) and the
 * unlikely() branch of a hot function, which gcc splits into a `.cold` part in
 * .text.unlikely. Loading it prints dump_stack() and WARN traces through both, and one
 * dump_stack() from .text, for the kernel-e2e harness to judge (tests/kernel/judge.py).
 */
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/bug.h>

static int trigger = 42;
module_param(trigger, int, 0444);

static noinline __attribute__((__cold__)) void lineinfo_e2e_cold(int v)
{
	pr_warn("lineinfo_e2e: cold path, v=%d\n", v);
	dump_stack();
	WARN(v == 42, "lineinfo_e2e: warning from the cold path\n");
	barrier();
}

static noinline int lineinfo_e2e_hot(int v)
{
	if (unlikely(v == 42)) {
		pr_warn("lineinfo_e2e: unlikely branch, v=%d\n", v);
		dump_stack();
		lineinfo_e2e_cold(v);
		return -1;
	}
	return v + 1;
}

static noinline void lineinfo_e2e_text(void)
{
	pr_info("lineinfo_e2e: .text path\n");
	dump_stack();
	barrier();
}

static int __init lineinfo_e2e_init(void)
{
	lineinfo_e2e_text();
	return lineinfo_e2e_hot(trigger) == -1 ? 0 : 0;
}

static void __exit lineinfo_e2e_exit(void)
{
}

module_init(lineinfo_e2e_init);
module_exit(lineinfo_e2e_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuild-lineinfo e2e: traces through .text.unlikely");
