//! `siteledger witness`: run a C2SP tlog-witness for other parties' logs (a court, a credit body or the provincial
//! department each runs one), or create its key. The witness itself is the `siteledger-witness` library.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use siteledger_signer::SigningKey;
use siteledger_signer::cosignature::WitnessVerifier;
use siteledger_witness::config::WitnessConfig;

/// The witness subcommands.
#[derive(Debug, Subcommand)]
pub enum WitnessCmd {
    /// Create the witness's Ed25519 key file (mode 0600, never overwritten) and print its witness key string,
    /// which logs and verifiers configure.
    Init {
        /// The witness's name, a schema-less URL (e.g. `witness.court.example/w1`).
        #[arg(long)]
        name: String,
        /// Where to write the key file.
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Serve `POST /add-checkpoint` for the logs named in the witness configuration file (TOML: name, key_file,
    /// state_dir, listen, [[log]] key).
    Serve {
        /// The witness configuration file.
        // (Not named `config`: clap would merge it with the global server `--config`.)
        #[arg(long)]
        witness_config: PathBuf,
    },
}

/// Runs a witness subcommand.
pub async fn run(cmd: WitnessCmd) -> anyhow::Result<()> {
    match cmd {
        WitnessCmd::Init { name, key_file } => {
            let key = SigningKey::generate().context("generating the witness key")?;
            // Check the name before anything is written.
            let vkey = WitnessVerifier::new(&name, *key.public()).context("witness name")?.vkey();
            key.write_file(&key_file).with_context(|| format!("writing {}", key_file.display()))?;
            println!("{vkey}");
        }
        WitnessCmd::Serve { witness_config } => {
            let cfg = WitnessConfig::read(&witness_config)?;
            let witness = Arc::new(cfg.witness(siteledger_witness::witness::system_clock())?);
            let listener =
                tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
            println!("witness {} listening on {}", witness.verifier().vkey(), listener.local_addr()?);
            siteledger_witness::server::serve(listener, witness, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("witness server")?;
        }
    }
    Ok(())
}
