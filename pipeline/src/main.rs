//! The `synplast` binary: see [`synplast::cli`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(synplast::cli::main_with_args(&args));
}
