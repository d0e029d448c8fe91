//! Child processes of the suite and what `/proc` says about them: CPU time and peak RSS of a
//! process tree, and a process-group kill that leaves nothing behind.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Process groups of the live [`Proc`]s, for [`stop_all`] when the suite is interrupted.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A child started in its own process group; dropping it stops the whole group (SIGTERM, then
/// SIGKILL after two seconds) and reaps it.
pub struct Proc {
    pub name: String,
    log: PathBuf,
    child: Child,
}

impl Proc {
    /// Starts `cmd` in a new process group, stdout and stderr to `log` (appended).
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("start {name} ({:?})", cmd.get_program()))?;
        GROUPS.lock().expect("groups").push(child.id());
        Ok(Proc {
            name: name.to_owned(),
            log: log.to_owned(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails, naming the process's log, if it has already exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early: {status} (see {})",
                self.name,
                self.log.display()
            );
        }
        Ok(())
    }

    /// [`wait_until`] `ready`, failing at once if the process exits meanwhile.
    pub fn wait_ready(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<()> {
        wait_until(what, timeout, || {
            self.check_alive()?;
            Ok(ready())
        })
    }

    /// The process and all its live descendants.
    pub fn tree(&self) -> Vec<u32> {
        tree(self.pid())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.child.id();
        GROUPS.lock().expect("groups").retain(|g| *g != pid);
        signal_group(pid, "-TERM");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) && group_members(pid).is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(pid, "-KILL");
        let _ = self.child.wait();
    }
}

fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

/// Stops the groups of every live [`Proc`] (SIGTERM, SIGKILL after two seconds) without
/// reaping them: for an interrupted run that is about to exit, where no `Drop` will run.
pub fn stop_all() {
    let groups = GROUPS.lock().expect("groups").clone();
    for &group in &groups {
        signal_group(group, "-TERM");
    }
    let _ = wait_until(
        "the suite's processes to stop",
        Duration::from_secs(2),
        || Ok(groups.iter().all(|&g| group_members(g).is_empty())),
    );
    for &group in &groups {
        signal_group(group, "-KILL");
    }
}

/// The processes of process group `group` that still run (zombies left out).
pub fn group_members(group: u32) -> Vec<u32> {
    all_stats()
        .into_iter()
        .filter(|(_, s)| s.pgrp == group && !s.zombie)
        .map(|(p, _)| p)
        .collect()
}

fn all_stats() -> Vec<(u32, Stat)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter_map(|p| Some((p, Stat::read(p)?)))
        .collect()
}

/// `pid` and its live descendants (by parent pid, from `/proc/*/stat`).
pub fn tree(pid: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = all_stats().into_iter().map(|(p, s)| (p, s.ppid)).collect();
    let mut found: Vec<u32> = Vec::new();
    if all.iter().any(|(p, _)| *p == pid) {
        found.push(pid);
    }
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found
}

/// The fields of `/proc/PID/stat` the suite uses.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub ppid: u32,
    /// Process group.
    pub pgrp: u32,
    /// utime + stime of the process itself, in clock ticks.
    pub cpu_ticks: u64,
    /// cutime + cstime: CPU of children it has reaped (nginx's old workers after a reload).
    pub reaped_ticks: u64,
    /// "Z" processes are gone but not yet reaped.
    pub zombie: bool,
}

impl Stat {
    pub fn read(pid: u32) -> Option<Stat> {
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces: split after the last ')'.
        let rest = &text[text.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        Some(Stat {
            ppid: num(1)? as u32,
            pgrp: num(2)? as u32,
            cpu_ticks: num(11)? + num(12)?,
            reaped_ticks: num(13)? + num(14)?,
            zombie: fields.first() == Some(&"Z"),
        })
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run on).
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// CPU seconds used so far by the tree under `root`: every live process's own time, plus what
/// `root` has reaped from children that exited.
pub fn cpu_seconds(root: u32) -> f64 {
    let mut ticks = Stat::read(root).map_or(0, |s| s.reaped_ticks);
    for pid in tree(root) {
        ticks += Stat::read(pid).map_or(0, |s| s.cpu_ticks);
    }
    ticks as f64 / ticks_per_second() as f64
}

/// A `kB` field of `/proc/PID/status` (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Sum over the tree of each process's peak RSS (`VmHWM`), in KiB. Shared pages (nginx's
/// master and workers share their binary and config) count once per process, as `ps` shows.
pub fn peak_rss_kib(root: u32) -> u64 {
    tree(root)
        .into_iter()
        .filter_map(|p| status_kib(p, "VmHWM"))
        .sum()
}

/// Sum over the tree of current RSS (`VmRSS`), in KiB.
pub fn rss_kib(root: u32) -> u64 {
    tree(root)
        .into_iter()
        .filter_map(|p| status_kib(p, "VmRSS"))
        .sum()
}

/// Polls `ready` every 20 ms until it holds or `timeout` passes; an error from `ready` ends
/// the wait at once.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free TCP port on `ip` (bound, read back, released: the suite's proxies take their ports
/// from config files, so the port is chosen here).
pub fn free_port(ip: &str) -> Result<u16> {
    let listener = std::net::TcpListener::bind((ip, 0)).with_context(|| format!("bind {ip}:0"))?;
    Ok(listener.local_addr()?.port())
}

/// One blocking HTTP/1.1 request on a new connection (`Connection: close`): the status code.
/// `GET path` on a new connection (`Connection: close`), the request written.
fn get_closed(addr: &str, host: &str, path: &str) -> Option<std::net::TcpStream> {
    use std::io::Write;
    let mut conn = std::net::TcpStream::connect(addr).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    conn.set_nodelay(true).ok()?;
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    Some(conn)
}

/// The value of response header `name` (lowercase) of `GET path` on a new connection, if the
/// answer is a 200 carrying it.
pub fn http_header(addr: &str, host: &str, path: &str, name: &str) -> Option<String> {
    use std::io::Read;
    let mut conn = get_closed(addr, host, path)?;
    let mut response = Vec::new();
    let _ = conn.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let (head, _) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    if !lines.next()?.starts_with("HTTP/1.1 200") {
        return None;
    }
    lines.find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// The status code of `GET path` on a new connection.
pub fn http_status(addr: &str, host: &str, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut conn = get_closed(addr, host, path)?;
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn waiting_on_a_process_that_exits_fails_at_once() {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut proc = Proc::spawn("quitter", sh("exit 3"), log.path()).expect("spawn");
        let started = Instant::now();
        let err = proc
            .wait_ready("nothing", Duration::from_secs(30), || false)
            .expect_err("the process exited");
        assert!(
            format!("{err:#}").contains("quitter exited early"),
            "{err:#}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn stop_all_stops_every_process_of_every_group() {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let proc = Proc::spawn("sleepers", sh("sleep 60 & sleep 60"), log.path()).expect("spawn");
        let pid = proc.pid();
        wait_until(
            "the shell and its two sleepers",
            Duration::from_secs(10),
            || Ok(group_members(pid).len() >= 2),
        )
        .expect("the child forked");
        stop_all();
        // By group, not by tree: the background sleep is re-parented if its shell dies first.
        let alive = group_members(pid);
        assert!(alive.is_empty(), "still running: {alive:?}");
        drop(proc);
        assert!(!GROUPS.lock().expect("groups").contains(&pid));
    }
}
