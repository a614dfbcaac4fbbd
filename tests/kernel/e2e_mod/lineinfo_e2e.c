// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * A module whose traces pass through code the compiler puts outside .text: a __cold
 * function (gcc: .text.unlikely) reached from an unlikely() branch. Loading it prints one
 * dump_stack() and one WARN from the cold path, and one dump_stack() from .text, for the
 * kernel-e2e harness to judge (tests/kernel/judge.py).
 */
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/bug.h>

static int trigger = 42;
module_param(trigger, int, 0444);

static noinline __cold void lineinfo_e2e_cold(int v)
{
	pr_warn("lineinfo_e2e: cold path, v=%d\n", v);
	dump_stack();
	WARN(v == 42, "lineinfo_e2e: warning from the cold path\n");
	barrier();
}

static noinline int lineinfo_e2e_hot(int v)
{
	if (unlikely(v == 42)) {
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
