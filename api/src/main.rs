//! `siteledger`: the platform server and command-line tool (lands with the platform-server issue).
fn main() {
    eprintln!("siteledger: the platform server is not built yet; see README.md");
    std::process::exit(2);
}
