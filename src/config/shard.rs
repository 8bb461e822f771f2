//! `--shard auto`: K/N from the variables a CI engine or a batch scheduler sets for a
//! parallel job or a job array (Slurm, PBS Pro, LSF).

use crate::cli::ShardArg;

/// The CI engines `--shard auto` reads: (name, index variable, count variable, first index).
/// Slurm, whose arrays may have a step or gaps, is read by [`slurm`].
const SHARD_SOURCES: [(&str, &str, Option<&str>, u64); 6] = [
    ("Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", None, 0),
    // PBS Pro's index is the array's own (`qsub -J 0-7`): shards are numbered from 0.
    ("PBS Pro array", "PBS_ARRAY_INDEX", None, 0),
    // LSF numbers array elements from 1 (`bsub -J "name[1-8]"`); 0 is a job of no array.
    ("LSF job array", "LSB_JOBINDEX", None, 1),
    ("GitLab parallel", "CI_NODE_INDEX", Some("CI_NODE_TOTAL"), 1),
    (
        "CircleCI",
        "CIRCLE_NODE_INDEX",
        Some("CIRCLE_NODE_TOTAL"),
        0,
    ),
    (
        "Buildkite",
        "BUILDKITE_PARALLEL_JOB",
        Some("BUILDKITE_PARALLEL_JOB_COUNT"),
        0,
    ),
];

/// The environment's variable `name` for [`shard`]: one that is not UTF-8 is given with its
/// bad bytes replaced, so that it is refused as not a number (never taken as unset).
pub fn var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Resolves `--shard` to (K, N): as given, or for `auto[/N]` from the environment that
/// `var` reads (the CI engine's variables). Errors when no engine's variables are set, when
/// several disagree, or when one disagrees with the N given.
pub fn shard(arg: ShardArg, var: impl Fn(&str) -> Option<String>) -> Result<(u64, u64), String> {
    let given = match arg {
        ShardArg::Fixed(k, n) => return Ok((k, n)),
        ShardArg::Auto(n) => n,
    };
    let number = |name: &str| -> Result<Option<u64>, String> {
        match var(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("--shard auto: {name}={v:?} is not a number")),
        }
    };
    let mut found: Vec<(&str, u64, u64)> = Vec::new();
    if let Some((k, n)) = slurm(&number)? {
        found.push(("Slurm array", k, n));
    }
    for source in SHARD_SOURCES {
        if let Some((k, n)) = engine_shard(source, given, &number)? {
            found.push((source.0, k, n));
        }
    }
    // A total of 1 is what GitLab and CircleCI set in every job (no `parallel:`): the whole
    // run, not a claim against a scheduler's array that the job submitted (sbatch passes its
    // environment on). It gives way to an engine that does shard.
    if found.iter().any(|&(_, _, n)| n > 1) {
        found.retain(|&(_, _, n)| n > 1);
    }
    let Some(&(engine, k, n)) = found.first() else {
        return Err(
            "--shard auto: no CI engine's or scheduler's shard variables are set \
                    (JOB_COMPLETION_INDEX, CI_NODE_INDEX, CIRCLE_NODE_INDEX, \
                    BUILDKITE_PARALLEL_JOB, SLURM_ARRAY_TASK_ID, PBS_ARRAY_INDEX, LSB_JOBINDEX); \
                    give --shard K/N"
                .into(),
        );
    };
    if let Some(&(other, k2, n2)) = found.iter().find(|&&(_, k2, n2)| (k2, n2) != (k, n)) {
        return Err(format!(
            "--shard auto: {engine} says shard {k}/{n} but {other} says {k2}/{n2}"
        ));
    }
    if let Some(g) = given.filter(|g| *g != n) {
        return Err(format!("--shard auto/{g}: {engine} runs {n} shards"));
    }
    Ok((k, n))
}

/// One engine's shard (K, N) from its variables (`number` reads one), None when they are
/// not set; `given`: the N of `auto/N`.
fn engine_shard(
    (engine, index_var, count_var, first): (&str, &str, Option<&str>, u64),
    given: Option<u64>,
    number: &impl Fn(&str) -> Result<Option<u64>, String>,
) -> Result<Option<(u64, u64)>, String> {
    let count = match count_var {
        Some(c) => number(c)?,
        None => None,
    };
    let index = number(index_var)?.filter(|&i| !(index_var == "LSB_JOBINDEX" && i == 0));
    let Some(index) = index else {
        // GitLab sets CI_NODE_TOTAL=1 and no index in a job without `parallel:`: the
        // one job is the whole run.
        match (count, count_var) {
            (Some(1), _) => return Ok(Some((0, 1))),
            (Some(n), Some(c)) => {
                return Err(format!(
                    "--shard auto: {engine}: {c}={n} but {index_var} is not set"
                ));
            }
            _ => {}
        }
        return Ok(None);
    };
    let Some(n) = count.or(given) else {
        return Err(format!(
            "--shard auto: {engine} ({index_var}={index}) does not give the number of \
             shards; use --shard auto/N"
        ));
    };
    if let Some(step) =
        number("LSB_JOBINDEX_STEP")?.filter(|&s| index_var == "LSB_JOBINDEX" && s > 1)
    {
        return Err(format!(
            "--shard auto: this LSF array has a step of {step} (LSB_JOBINDEX_STEP): its \
             indices are not shard numbers; submit name[1-{n}] and keep --shard auto/{n}"
        ));
    }
    let k = index.checked_sub(first).filter(|k| *k < n).ok_or_else(|| {
        let hint = match index_var {
            "PBS_ARRAY_INDEX" => {
                format!(
                    " (PBS Pro arrays are taken from 0: qsub -J 0-{})",
                    n.saturating_sub(1)
                )
            }
            "LSB_JOBINDEX" => format!(" (LSF arrays are taken from 1: name[1-{n}])"),
            _ => String::new(),
        };
        format!("--shard auto: {engine}: {index_var}={index} is not a shard of {n}{hint}")
    })?;
    Ok(Some((k, n)))
}

/// A Slurm job array's task as (K, N): its index from the array's first
/// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`) of `SLURM_ARRAY_TASK_COUNT`. An array with
/// a step (`--array=0-15:4`) or gaps (`--array=1,3,7`) is refused: its ids are not K/N, and
/// a task cannot tell which ones the others have; the error says what to use instead.
fn slurm(
    number: &impl Fn(&str) -> Result<Option<u64>, String>,
) -> Result<Option<(u64, u64)>, String> {
    let Some(id) = number("SLURM_ARRAY_TASK_ID")? else {
        return Ok(None);
    };
    let field = |name: &str| {
        number(name)?.ok_or_else(|| format!("--shard auto: Slurm array: {name} is not set"))
    };
    let (min, max, count) = (
        field("SLURM_ARRAY_TASK_MIN")?,
        field("SLURM_ARRAY_TASK_MAX")?,
        field("SLURM_ARRAY_TASK_COUNT")?,
    );
    let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
    if count == 0 || max < min || count - 1 > max - min {
        return Err(format!(
            "--shard auto: Slurm array: SLURM_ARRAY_TASK_COUNT={count} tasks cannot lie \
             between SLURM_ARRAY_TASK_MIN={min} and SLURM_ARRAY_TASK_MAX={max}"
        ));
    }
    let k = id.checked_sub(min).filter(|_| id <= max).ok_or_else(|| {
        format!(
            "--shard auto: Slurm array: SLURM_ARRAY_TASK_ID={id} is not within \
             SLURM_ARRAY_TASK_MIN={min} and SLURM_ARRAY_TASK_MAX={max}"
        )
    })?;
    if step > 1 && (max - min) / step + 1 == count && k % step == 0 {
        return Err(format!(
            "--shard auto: this Slurm array has a step of {step} ({min}-{max}:{step}): its task \
             ids are not shard numbers; give --shard {}/{count} here, or submit \
             --array=0-{} and keep --shard auto",
            k / step,
            count - 1
        ));
    }
    if (max - min).checked_add(1) != Some(count) {
        return Err(format!(
            "--shard auto: this Slurm array has gaps ({count} tasks between {min} and {max}): \
             a task cannot tell its place among the others; submit --array=0-{} (then \
             --shard auto), or give each task its --shard K/{count}",
            count - 1
        ));
    }
    Ok(Some((k, count)))
}

#[cfg(test)]
mod shard_tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_total_of_one_without_an_index_is_the_whole_run() {
        let auto = ShardArg::Auto(None);
        assert_eq!(shard(auto, env(&[("CI_NODE_TOTAL", "1")])), Ok((0, 1)));
        assert_eq!(
            shard(ShardArg::Auto(Some(1)), env(&[("CI_NODE_TOTAL", "1")])),
            Ok((0, 1))
        );
        assert!(
            shard(auto, env(&[("CI_NODE_TOTAL", "3")]))
                .unwrap_err()
                .contains("CI_NODE_INDEX is not set")
        );
        assert!(shard(auto, env(&[])).is_err());
    }

    #[test]
    fn auto_reads_each_engine_with_its_base() {
        let auto = ShardArg::Auto(None);
        assert_eq!(
            shard(auto, env(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "3")])),
            Ok((0, 3))
        );
        assert_eq!(
            shard(
                auto,
                env(&[("CIRCLE_NODE_INDEX", "2"), ("CIRCLE_NODE_TOTAL", "3")])
            ),
            Ok((2, 3))
        );
        assert_eq!(
            shard(
                auto,
                env(&[
                    ("BUILDKITE_PARALLEL_JOB", "0"),
                    ("BUILDKITE_PARALLEL_JOB_COUNT", "2")
                ])
            ),
            Ok((0, 2))
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "4")]);
        assert_eq!(shard(ShardArg::Auto(Some(5)), &k8s), Ok((4, 5)));
        assert!(
            shard(auto, &k8s)
                .unwrap_err()
                .contains("use --shard auto/N")
        );
        assert_eq!(shard(ShardArg::Fixed(1, 2), env(&[])), Ok((1, 2)));
    }

    #[test]
    fn slurm_arrays_from_any_first_index_and_schedulers_without_a_total() {
        let auto = ShardArg::Auto(None);
        let array = |id, min, max, count, step| {
            [
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_MAX", max),
                ("SLURM_ARRAY_TASK_COUNT", count),
                ("SLURM_ARRAY_TASK_STEP", step),
            ]
        };
        assert_eq!(
            shard(auto, env(&array("0", "0", "3", "4", "1"))),
            Ok((0, 4))
        );
        assert_eq!(
            shard(auto, env(&array("4", "1", "4", "4", "1"))),
            Ok((3, 4))
        );
        let e = shard(auto, env(&array("8", "0", "12", "4", "4"))).unwrap_err();
        assert!(
            e.contains("a step of 4") && e.contains("--shard 2/4"),
            "{e}"
        );
        let e = shard(auto, env(&array("3", "1", "7", "3", "1"))).unwrap_err();
        assert!(e.contains("gaps") && e.contains("--array=0-2"), "{e}");
        assert!(
            shard(auto, env(&array("9", "1", "4", "4", "1")))
                .unwrap_err()
                .contains("not within")
        );
        // PBS Pro and LSF give no total: auto/N.
        let pbs = env(&[("PBS_ARRAY_INDEX", "2")]);
        assert_eq!(shard(ShardArg::Auto(Some(4)), &pbs), Ok((2, 4)));
        assert!(shard(auto, &pbs).unwrap_err().contains("auto/N"));
        let lsf = env(&[("LSB_JOBINDEX", "1")]);
        assert_eq!(shard(ShardArg::Auto(Some(3)), &lsf), Ok((0, 3)));
        // LSB_JOBINDEX=0 is a job of no array: nothing found.
        let none = env(&[("LSB_JOBINDEX", "0")]);
        assert!(shard(auto, none).unwrap_err().contains("no CI engine"));
        // Two engines that disagree stay an error.
        let both = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("CI_NODE_INDEX", "1"),
            ("CI_NODE_TOTAL", "2"),
        ]);
        assert!(shard(auto, both).unwrap_err().contains("says"));
    }

    #[test]
    fn auto_refuses_nothing_disagreement_and_nonsense() {
        let auto = ShardArg::Auto(None);
        assert!(shard(auto, env(&[])).unwrap_err().contains("no CI engine"));
        let both = env(&[
            ("CI_NODE_INDEX", "1"),
            ("CI_NODE_TOTAL", "2"),
            ("CIRCLE_NODE_INDEX", "1"),
            ("CIRCLE_NODE_TOTAL", "2"),
        ]);
        let e = shard(auto, both).unwrap_err();
        assert!(
            e.contains("GitLab parallel says shard 0/2 but CircleCI says 1/2"),
            "{e}"
        );
        let gl = env(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")]);
        assert!(shard(auto, gl).unwrap_err().contains("is not a shard of 2"));
        let e = shard(
            ShardArg::Auto(Some(3)),
            env(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "2")]),
        );
        assert!(e.unwrap_err().contains("runs 2 shards"));
        let bad = env(&[("CIRCLE_NODE_INDEX", "x")]);
        assert!(shard(auto, bad).unwrap_err().contains("not a number"));
    }

    #[test]
    fn a_ci_jobs_total_of_one_gives_way_to_an_array_it_submitted() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        for ci in [
            &[("CI_NODE_TOTAL", "1")][..],
            &[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "1")],
        ] {
            let vars: Vec<_> = slurm.iter().chain(ci).copied().collect();
            assert_eq!(
                shard(ShardArg::Auto(None), env(&vars)),
                Ok((1, 4)),
                "{ci:?}"
            );
        }
        let pbs = [("PBS_ARRAY_INDEX", "2"), ("CI_NODE_TOTAL", "1")];
        assert_eq!(shard(ShardArg::Auto(Some(4)), env(&pbs)), Ok((2, 4)));
    }

    #[test]
    fn inconsistent_slurm_and_stepped_lsf_arrays_are_refused_by_name() {
        let auto = ShardArg::Auto(None);
        let slurm = |id: &str, min: &str, max: &str, count: &str| {
            shard(
                auto,
                env(&[
                    ("SLURM_ARRAY_TASK_ID", id),
                    ("SLURM_ARRAY_TASK_MIN", min),
                    ("SLURM_ARRAY_TASK_MAX", max),
                    ("SLURM_ARRAY_TASK_COUNT", count),
                ]),
            )
            .unwrap_err()
        };
        let max = u64::MAX.to_string();
        assert!(slurm("0", "0", &max, "4").contains("gaps"));
        assert!(slurm("4", "0", "3", "4").contains("SLURM_ARRAY_TASK_ID=4 is not within"));
        assert!(slurm("0", "0", "3", "0").contains("SLURM_ARRAY_TASK_COUNT=0"));
        assert!(slurm("0", "0", "3", "5").contains("SLURM_ARRAY_TASK_COUNT=5"));
        assert!(slurm("1", "3", "1", "1").contains("SLURM_ARRAY_TASK_MIN=3"));
        let lsf = [("LSB_JOBINDEX", "5"), ("LSB_JOBINDEX_STEP", "4")];
        assert!(
            shard(ShardArg::Auto(Some(4)), env(&lsf))
                .unwrap_err()
                .contains("step of 4")
        );
        let pbs = env(&[("PBS_ARRAY_INDEX", "8")]);
        assert!(
            shard(ShardArg::Auto(Some(8)), pbs)
                .unwrap_err()
                .contains("qsub -J 0-7")
        );
    }
}
