#[allow(dead_code)]
mod modules;

fn main() {}
