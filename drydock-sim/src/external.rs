//! Real third-party BMC peers for tests and benchmarks, started as child
//! processes in a temporary directory on free loopback ports and killed on
//! drop: OpenIPMI's `ipmi_sim` (IPMI 2.0 over LAN, with a chassis-control
//! script whose state files are the test oracle) and sushy-tools'
//! `sushy-emulator --fake` behind a small session-service wrapper (Redfish).
//! Configurations follow `shared/spec/drivers.md` §4.4 and §5.3.
//!
//! When a peer is not installed, [`require`] prints why and returns `false`
//! (the test then skips), unless `CI=true`, where it panics.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a peer is usable; when it is not, print `why` and return false,
/// or panic under `CI=true` (CI machines must run every peer test).
pub fn require(peer: &str, available: bool, hint: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{peer} is not installed and CI=true: {hint}");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` in
    // passing tests, and a skip must be visible.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {peer} is not installed ({hint})");
    false
}

/// Whether `ipmi_sim` is on the PATH.
pub fn ipmi_sim_installed() -> bool {
    Command::new("ipmi_sim").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Whether `ipmitool` is on the PATH.
pub fn ipmitool_installed() -> bool {
    Command::new("ipmitool").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// The Python that runs sushy-tools: `DRYDOCK_SUSHY_PYTHON`, else `python3`.
pub fn sushy_python() -> String {
    std::env::var("DRYDOCK_SUSHY_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether sushy-tools can be imported.
pub fn sushy_installed() -> bool {
    Command::new(sushy_python())
        .args(["-c", "import sushy_tools.emulator.main"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Free UDP ports on 127.0.0.1, all distinct (held until all are found).
pub fn free_udp_ports(count: usize) -> Vec<u16> {
    let sockets: Vec<UdpSocket> = (0..count).map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port")).collect();
    sockets.iter().map(|s| s.local_addr().expect("local address").port()).collect()
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind a TCP port").port()
}

/// The account every peer accepts.
pub const USER: &str = "admin";
/// Its password (also the operator's).
pub const PASSWORD: &str = "password";
/// An `ipmi_sim` account limited to Operator privilege.
pub const OPERATOR: &str = "oper";

const CHASSIS_SH: &str = r#"#!/bin/sh
# Chassis-control program for ipmi_sim (drivers spec 4.4): chassis.sh DIR get PARM...
# prints PARM:VALUE lines; chassis.sh DIR set PARM VALUE... records the values.
dir=$1; op=$2; shift 2
mkdir -p "$dir"
[ -f "$dir/power" ] || echo 0 > "$dir/power"
[ -f "$dir/boot" ]  || echo default > "$dir/boot"
case "$op" in
  get)
    for p in "$@"; do
      case "$p" in
        power|boot) echo "$p:$(cat "$dir/$p")" ;;
        *) echo "unsupported get $p"; exit 1 ;;
      esac
    done ;;
  set)
    while [ $# -ge 2 ]; do
      p=$1; v=$2; shift 2
      case "$p" in
        power)
          old=$(cat "$dir/power")
          echo "$v" > "$dir/power"
          # Tell a simulated MaaS when the machine powers on (PXE: it enlists).
          if [ -f "$dir/notify_url" ] && [ "$old" != "$v" ]; then
            if [ "$v" = 1 ]; then state=On; else state=Off; fi
            if [ "$(cat "$dir/boot")" = pxe ]; then pxe=true; else pxe=false; fi
            curl -s -m 5 -X PUT -H 'Content-Type: application/json' \
              -d "{\"power\": \"$state\", \"pxe\": $pxe}" "$(cat "$dir/notify_url")" > /dev/null 2>&1 || true
          fi ;;
        boot)  echo "$v" > "$dir/boot" ;;
        shutdown) echo 0 > "$dir/power" ;;  # the "OS" honours a soft shutdown at once
        reset|identify) : ;;
        *) echo "unsupported set $p"; exit 1 ;;
      esac
      echo "$(date +%s) set $p $v" >> "$dir/events.log"
    done ;;
  check) exit 0 ;;
  *) exit 1 ;;
esac
exit 0
"#;

const BMC_EMU: &str =
    "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n";

fn lan_conf(name: &str, port: u16) -> String {
    format!(
        r#"name "{name}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "./chassis.sh ./state"
  user 1 true  ""      "test"     user  10 none md2 md5 straight
  user 2 true  "{USER}" "{PASSWORD}" admin 10 none md2 md5 straight
  user 3 true  "{OPERATOR}" "{PASSWORD}" operator 10 none md2 md5 straight
"#
    )
}

/// Send an RMCP presence ping to `port` until something answers.
fn wait_for_rmcp(port: u16, within: Duration) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else { return false };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let ping = [0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x01, 0x00, 0x00];
    let deadline = Instant::now() + within;
    let mut buffer = [0u8; 64];
    while Instant::now() < deadline {
        let _ = socket.send_to(&ping, ("127.0.0.1", port));
        if socket.recv(&mut buffer).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One `ipmi_sim` BMC on 127.0.0.1:`port` (administrator [`USER`] and
/// operator [`OPERATOR`], both with [`PASSWORD`]).
#[derive(Debug)]
pub struct IpmiSim {
    child: Child,
    dir: tempfile::TempDir,
    /// Its UDP port.
    pub port: u16,
}

impl IpmiSim {
    /// Start a BMC on a free port.
    pub fn start(name: &str) -> std::io::Result<IpmiSim> {
        let port = free_udp_ports(1)[0];
        IpmiSim::start_on(name, port)
    }

    /// Start a BMC on `port` and wait until it answers RMCP pings.
    pub fn start_on(name: &str, port: u16) -> std::io::Result<IpmiSim> {
        IpmiSim::start_notifying(name, port, None)
    }

    /// Start a BMC on `port` whose power changes are also `PUT` to `notify`
    /// (`{"power": "On"|"Off", "pxe": bool}`, the simulator's
    /// `/_emulator/bmcs/<name>/power`), so a PXE power-on enlists its machine.
    pub fn start_notifying(name: &str, port: u16, notify: Option<&str>) -> std::io::Result<IpmiSim> {
        let dir = tempfile::Builder::new().prefix("drydock-ipmi-sim-").tempdir()?;
        std::fs::write(dir.path().join("lan.conf"), lan_conf(name, port))?;
        std::fs::write(dir.path().join("bmc.emu"), BMC_EMU)?;
        let script = dir.path().join("chassis.sh");
        std::fs::write(&script, CHASSIS_SH)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::create_dir_all(dir.path().join("persist"))?;
        std::fs::create_dir_all(dir.path().join("state"))?;
        if let Some(url) = notify {
            std::fs::write(dir.path().join("state/notify_url"), url)?;
        }
        let log = std::fs::File::create(dir.path().join("ipmi_sim.log"))?;
        let child = Command::new("ipmi_sim")
            .args(["-c", "lan.conf", "-f", "bmc.emu", "-s", "./persist", "-n"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut sim = IpmiSim { child, dir, port };
        if !wait_for_rmcp(port, Duration::from_secs(10)) {
            let log = std::fs::read_to_string(sim.dir.path().join("ipmi_sim.log")).unwrap_or_default();
            let _ = sim.child.kill();
            return Err(std::io::Error::other(format!("ipmi_sim on port {port} did not answer: {log}")));
        }
        Ok(sim)
    }

    /// The directory the chassis script keeps its state in.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The power state the chassis script recorded (`"0"`/`"1"`).
    pub fn recorded_power(&self) -> String {
        read_trimmed(&self.state_dir().join("power")).unwrap_or_else(|| "0".to_owned())
    }

    /// The boot device the chassis script recorded (`pxe`, `default`, …).
    pub fn recorded_boot(&self) -> String {
        read_trimmed(&self.state_dir().join("boot")).unwrap_or_else(|| "default".to_owned())
    }

    /// Every `set` the chassis script saw, one line each.
    pub fn events(&self) -> Vec<String> {
        std::fs::read_to_string(self.state_dir().join("events.log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// Run `ipmitool -I lanplus -C 3` against this BMC; its stdout.
    pub fn ipmitool(&self, args: &[&str]) -> std::io::Result<String> {
        let port = self.port.to_string();
        let output = Command::new("ipmitool")
            .args(["-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", &port, "-U", USER, "-P", PASSWORD, "-N", "1", "-R", "2"])
            .args(args)
            .output()?;
        if !output.status.success() {
            return Err(std::io::Error::other(format!("ipmitool {args:?}: {}", String::from_utf8_lossy(&output.stderr))));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// The session-service wrapper around sushy-emulator (drivers spec §5.3),
/// plus `RF_TOKEN_USES`: a token expires after that many authenticated
/// requests (the client must log in again).
const SUSHY_WRAPPER: &str = include_str!("sushy_with_sessions.py");

/// The fake system's UUID in every [`Sushy`] emulator.
pub const SUSHY_SYSTEM: &str = "8f7a0f3e-3c3e-4a7e-9d8e-000000000001";

/// One sushy-emulator (`--fake`, one system, sessions required) on
/// `http://127.0.0.1:<port>`.
#[derive(Debug)]
pub struct Sushy {
    child: Child,
    dir: tempfile::TempDir,
    /// Its TCP port.
    pub port: u16,
}

impl Sushy {
    /// Start an emulator whose tokens expire after `token_uses`
    /// authenticated requests (0: never).
    pub fn start(token_uses: u32) -> std::io::Result<Sushy> {
        Sushy::start_on(free_tcp_port(), token_uses)
    }

    /// Start an emulator on `port` (see [`Sushy::start`]).
    pub fn start_on(port: u16, token_uses: u32) -> std::io::Result<Sushy> {
        Sushy::start_notifying(port, token_uses, None)
    }

    /// Start an emulator on `port` whose system changes sushy's external
    /// notifier `PUT`s to `notify` (the system document: `power_state`,
    /// `boot_device`; the simulator's `/_emulator/bmcs/<name>/power`).
    pub fn start_notifying(port: u16, token_uses: u32, notify: Option<&str>) -> std::io::Result<Sushy> {
        let dir = tempfile::Builder::new().prefix("drydock-sushy-").tempdir()?;
        let notifier = match notify {
            Some(url) => format!("EXTERNAL_NOTIFICATION_URL = {url:?}\n"),
            None => String::new(),
        };
        std::fs::write(dir.path().join("sushy_with_sessions.py"), SUSHY_WRAPPER)?;
        std::fs::write(
            dir.path().join("node.conf"),
            format!(
                "SUSHY_EMULATOR_STATE_DIR = {state:?}\n{notifier}SUSHY_EMULATOR_FAKE_SYSTEMS = [\n    {{'uuid': '{SUSHY_SYSTEM}', 'name': 'node01',\n     'power_state': 'Off', 'external_notifier': {external},\n     'nics': [{{'mac': '52:54:00:00:00:01', 'ip': '172.22.0.11'}}]}},\n]\n",
                state = dir.path().join("state").display().to_string(),
                external = if notify.is_some() { "True" } else { "False" },
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("sushy.log"))?;
        let child = Command::new(sushy_python())
            .args(["sushy_with_sessions.py", "--fake", "--config", "node.conf", "-i", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .env("RF_USER", USER)
            .env("RF_PASSWORD", PASSWORD)
            .env("RF_REQUIRE_TOKEN", "1")
            .env("RF_TOKEN_USES", token_uses.to_string())
            .env("RF_POWER_DELAY", "1")
            .env("RF_LOGINS", dir.path().join("logins.log"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut sushy = Sushy { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if sushy.get_status("/redfish/v1/") == Some(200) {
                return Ok(sushy);
            }
            if let Ok(Some(status)) = sushy.child.try_wait() {
                return Err(with_log(&sushy.dir, &format!("sushy-emulator exited with {status}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(with_log(&sushy.dir, "sushy-emulator did not answer within 30 s"))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many session logins the emulator accepted.
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(self.logins_file()).unwrap_or_default().lines().count()
    }

    /// The file the emulator's wrapper appends one line to per login.
    pub fn logins_file(&self) -> PathBuf {
        self.dir.path().join("logins.log")
    }

    /// The HTTP status of an unauthenticated GET of `path`.
    pub fn get_status(&self, path: &str) -> Option<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }
}

fn with_log(dir: &tempfile::TempDir, why: &str) -> std::io::Error {
    let log = std::fs::read_to_string(dir.path().join("sushy.log")).unwrap_or_default();
    std::io::Error::other(format!("{why}: {log}"))
}

impl Drop for Sushy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
