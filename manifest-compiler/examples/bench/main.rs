//! Compile-time benchmark: every fixture in `tests/fixtures`, and generated
//! programs of 50 to 1,000 entities (see `generate.rs`), printed as a
//! markdown table.
//!
//! `cargo run --release -p manifest-compiler --example bench -- [options]`
//!
//! - `--sizes 50,100,200,500,1000`: the generated programs' entity counts;
//! - `--runs N`: timed compiles of each generated program (default 10; the
//!   fixtures are compiled as a set, N passes);
//! - `--write-programs DIR`: also write the generated programs to
//!   `DIR/generated-<n>.manifest` (the reference's harness times the same files);
//! - `--json FILE`: also write the timings as JSON (`scripts/bench-compiler.sh`).
//! - `--profile N`: compile the largest program N times and print nothing
//!   else (for `perf record`).

mod generate;

use manifest_compiler::{Options, compile_with};
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Args {
    sizes: Vec<usize>,
    runs: usize,
    write_programs: Option<PathBuf>,
    json: Option<PathBuf>,
    profile: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sizes: vec![50, 100, 200, 500, 1000],
        runs: 10,
        write_programs: None,
        json: None,
        profile: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => {
                args.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--write-programs" => args.write_programs = Some(value()?.into()),
            "--json" => args.json = Some(value()?.into()),
            "--profile" => {
                args.profile = Some(value()?.parse().map_err(|e| format!("--profile: {e}"))?)
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.runs == 0 || args.sizes.contains(&0) {
        return Err("--runs and every size must be at least 1".into());
    }
    Ok(args)
}

fn options() -> Options {
    Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    }
}

/// Seconds of one compile of `source` (dropping the result included), and whether it compiled.
fn time_once(source: &str) -> (f64, bool) {
    let start = Instant::now();
    let result = compile_with(source, &options());
    let elapsed = start.elapsed().as_secs_f64();
    let ok = result.is_ok();
    drop(result);
    (elapsed, ok)
}

/// The part of a compile no implementation can skip: `irHash`, SHA-256 of the canonical
/// text of the whole IR. Its text's length, and the median time of writing and hashing it.
fn hash_floor(source: &str, runs: usize) -> (usize, f64) {
    let Ok(compiled) = compile_with(source, &options()) else {
        return (0, 0.0);
    };
    let bytes = manifest_ir::canonical::to_string(&compiled.ir).map_or(0, |t| t.len());
    let times = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let hash = manifest_ir::canonical::sha256_hex(&compiled.ir);
            let elapsed = start.elapsed().as_secs_f64();
            std::hint::black_box(hash).ok();
            elapsed
        })
        .collect();
    (bytes, median(times))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|r| r.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "manifest"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            Some((name, std::fs::read_to_string(&p).ok()?))
        })
        .collect();
    out.sort();
    out
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(n) = args.profile {
        let size = args.sizes.iter().copied().max().unwrap_or(1000);
        let source = generate::program(size);
        let total: f64 = (0..n).map(|_| time_once(&source).0).sum();
        eprintln!(
            "{n} compiles of {size} entities: {:.1} ms each",
            total * 1e3 / n as f64
        );
        return;
    }
    let fixtures = fixtures();
    // Per fixture, the median of `runs` compiles; per pass, the whole set's time.
    let mut per_fixture: Vec<Vec<f64>> = vec![Vec::new(); fixtures.len()];
    let mut passes = Vec::new();
    for _ in 0..=args.runs {
        let mut pass = 0.0;
        for (i, (_, source)) in fixtures.iter().enumerate() {
            let (t, _) = time_once(source);
            per_fixture[i].push(t);
            pass += t;
        }
        passes.push(pass);
    }
    // The first pass warms up.
    passes.remove(0);
    per_fixture.iter_mut().for_each(|xs| {
        xs.remove(0);
    });
    let fixture_medians: Vec<f64> = per_fixture.into_iter().map(median).collect();
    let fixture_lines: usize = fixtures.iter().map(|(_, s)| s.lines().count()).sum();
    let fixtures_total = median(passes);
    let fixtures_median = median(fixture_medians.clone());
    // irHash alone, for the fixtures that compile (the others stop before any IR).
    let fixture_hashes: Vec<(usize, f64)> = fixtures
        .iter()
        .map(|(_, source)| hash_floor(source, args.runs))
        .filter(|&(bytes, _)| bytes > 0)
        .collect();
    let hash_total: f64 = fixture_hashes.iter().map(|&(_, t)| t).sum();
    let hash_median = median(fixture_hashes.iter().map(|&(_, t)| t).collect());
    let hash_bytes: usize = fixture_hashes.iter().map(|&(b, _)| b).sum();

    println!(
        "manifest-rs compileToIR-equivalent (`manifest_compiler::compile_with`), release, median of {} runs\n",
        args.runs
    );
    println!(
        "| program | lines | bytes | ours (ms) | µs / line | irHash text (bytes) | irHash alone (ms) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} fixtures, all | {fixture_lines} | {} | {:.3} | {:.2} | {hash_bytes} | {:.3} |",
        fixtures.len(),
        fixtures.iter().map(|(_, s)| s.len()).sum::<usize>(),
        fixtures_total * 1e3,
        fixtures_total * 1e6 / fixture_lines as f64,
        hash_total * 1e3
    );
    println!(
        "| fixture, median | | | {:.3} | | | {:.3} |",
        fixtures_median * 1e3,
        hash_median * 1e3
    );
    let mut generated = Vec::new();
    for &n in &args.sizes {
        let source = generate::program(n);
        if let Some(dir) = &args.write_programs {
            let path = dir.join(format!("generated-{n}.manifest"));
            if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &source))
            {
                eprintln!("bench: {}: {e}", path.display());
                std::process::exit(2);
            }
        }
        let (_, ok) = time_once(&source);
        if !ok {
            eprintln!("bench: the generated program of {n} entities does not compile");
            std::process::exit(1);
        }
        let times: Vec<f64> = (0..args.runs).map(|_| time_once(&source).0).collect();
        let t = median(times);
        let (hash_bytes, hash_seconds) = hash_floor(&source, args.runs);
        let lines = source.lines().count();
        debug_assert_eq!(lines, n * generate::LINES_PER_ENTITY);
        println!(
            "| {n} entities | {lines} | {} | {:.3} | {:.2} | {hash_bytes} | {:.3} |",
            source.len(),
            t * 1e3,
            t * 1e6 / lines as f64,
            hash_seconds * 1e3
        );
        generated.push(serde_json::json!({
            "entities": n, "lines": lines, "bytes": source.len(), "seconds": t,
            "hashBytes": hash_bytes, "hashSeconds": hash_seconds,
        }));
    }
    if let Some(path) = &args.json {
        let fixtures_json: Vec<_> = fixtures
            .iter()
            .zip(&fixture_medians)
            .map(|((name, _), t)| serde_json::json!({"name": name, "seconds": t}))
            .collect();
        let doc = serde_json::json!({
            "runs": args.runs,
            "fixtures": {"count": fixtures.len(), "lines": fixture_lines, "total": fixtures_total, "median": fixtures_median, "each": fixtures_json, "hashTotal": hash_total, "hashMedian": hash_median},
            "generated": generated,
        });
        if let Err(e) = std::fs::write(path, doc.to_string()) {
            eprintln!("bench: {}: {e}", path.display());
            std::process::exit(2);
        }
    }
}
