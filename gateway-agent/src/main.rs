//! `gateway-agent`: the on-site collector (lands with the site-IoT issue).
fn main() {
    eprintln!("gateway-agent: not built yet; see README.md");
    std::process::exit(2);
}
