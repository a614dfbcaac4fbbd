use kbuild_lineinfo::*;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let data = unsafe { memmap2::Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
    drop(f);
    let t = std::time::Instant::now();
    let input = input::Input::parse(&data).unwrap();
    eprintln!("parse {:?}", t.elapsed());
    let s = rows::guess_srctree(&input).unwrap();
    eprintln!("guess {:?}", t.elapsed());
    let rows = rows::read_rows(
        &input,
        &paths::Namer::new(s.as_deref()),
        std::env::var("T").map(|t| t.parse().unwrap()).unwrap_or(1),
    )
    .unwrap();
    eprintln!("rows {:?} {}", t.elapsed(), rows.points.len());
    let syms = input.text_symbol_starts();
    eprintln!("syms {:?} {}", t.elapsed(), syms.len());
    let text = input.symbol("_text").unwrap();
    let etext = input.symbol("_etext").unwrap();
    eprintln!("symbol {:?}", t.elapsed());
    let (tb, _) = table::build(&rows.points, &rows.names, &syms, text, etext).unwrap();
    eprintln!("build {:?} {}", t.elapsed(), tb.entries.len());
}
