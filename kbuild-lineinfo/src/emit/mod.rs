//! Emitters: the tables as GNU as assembly ([`asm`]) or as a relocatable ELF object ([`elf`]).
pub mod asm;
pub mod elf;
pub mod ko;
