fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let t0 = std::time::Instant::now();
    let v =
        kbuild_lineinfo::extract::vmlinux(&data, &Default::default(), Default::default()).unwrap();
    eprintln!(
        "{:?} {:?} srctree={:?} text={:#x} etext={:#x}",
        t0.elapsed(),
        v.stats,
        v.srctree
            .as_ref()
            .map(|s| String::from_utf8_lossy(s).to_string()),
        v.text,
        v.etext
    );
    for e in v
        .table
        .entries
        .iter()
        .step_by(v.table.entries.len() / 20 + 1)
    {
        eprintln!(
            "{:#x} {}:{}",
            e.offset as u64 + v.text,
            String::from_utf8_lossy(&v.table.files[e.file as usize]),
            e.line
        );
    }
    let abs = v.table.files.iter().filter(|f| f.starts_with(b"/")).count();
    eprintln!("absolute names: {abs}");
    for f in v.table.files.iter().filter(|f| f.starts_with(b"/")).take(5) {
        eprintln!("  {}", String::from_utf8_lossy(f));
    }
}
