//! The IPMI OOB driver (compat: drivers spec §4): IPMI 2.0 over LAN (RMCP+,
//! cipher suite 3) with the `ipmi-rs` crate and the typed chassis and boot
//! commands of [`commands`].
//!
//! Every operation is one session: login (RMCP+ open session, RAKP 1-4,
//! which ipmi-rs always runs at Administrator), Set Session Privilege Level
//! to Administrator (Operator if the BMC granted a session but refuses that
//! level; ipmi-rs leaves the session at User level), the commands,
//! then Close Session. ipmi-rs is blocking and has no retransmission, so a
//! session runs on tokio's blocking pool under a deadline (an address where
//! nothing answers fails with a transient timeout, never a hang), and a
//! panic inside the crate becomes a [`DriverError`]. The driver does not
//! retry; the orchestrator's BMC retry policy does (compat: upstream's 5×15 s
//! loop is not reproduced). The password only keys the RAKP HMACs and never
//! crosses the wire; errors and logs name the BMC endpoint and the account,
//! never the credential.
//!
//! The BMC is reached at the node's OOB address on UDP port 623, or on
//! `oob.port` when the node gives one (simulators, tests). ipmi-rs binds its
//! socket to `[::]:0`, so the host needs IPv6 enabled (dual-stack reaches
//! IPv4 BMCs); without it every session fails with "cannot open a local UDP
//! socket".

pub mod commands;

use std::io::ErrorKind;
use std::time::Duration;

use async_trait::async_trait;
use ipmi_rs::connection::{CompletionErrorCode, IpmiCommand};
use ipmi_rs::rmcp::{
    ActivationError, RakpMessage2ErrorStatusCode, RakpMessage2ParseError, RakpMessage4ErrorStatusCode, RakpMessage4ParseError, Rmcp,
    RmcpIpmiError, RmcpIpmiReceiveError, V2_0ActivationError,
};
use ipmi_rs::{Ipmi, IpmiError};

use self::commands::{
    BootFlags, BootFlagsReply, ChassisCommand, ChassisControl, CloseSession, GetBootFlags, GetChassisStatus, Privilege,
    SetBootFlagValidBitClearing, SetBootFlags, SetSessionPrivilegeLevel,
};
use super::blocking::{Wording, contained};
use super::{BootDevice, DriverError, DriverErrorKind, OobDriver, OobTarget, PowerAction, PowerState};
use crate::ids::Secret;

/// The RMCP port BMCs listen on.
pub const DEFAULT_PORT: u16 = 623;

/// IPMI driver settings.
#[derive(Debug, Clone)]
pub struct IpmiConfig {
    /// How long to wait for each reply (ipmi-rs sends every request once).
    pub reply_timeout: Duration,
    /// A whole session — login, commands, logout — ends within this, or the
    /// operation fails with a transient timeout.
    pub session_deadline: Duration,
}

impl Default for IpmiConfig {
    fn default() -> Self {
        IpmiConfig { reply_timeout: Duration::from_secs(2), session_deadline: Duration::from_secs(15) }
    }
}

/// The IPMI driver.
#[derive(Debug, Clone, Default)]
pub struct IpmiDriver {
    config: IpmiConfig,
}

/// One open, privileged session with a BMC.
struct Session {
    ipmi: Ipmi<Rmcp>,
    operation: &'static str,
    endpoint: String,
    reply_timeout: Duration,
}

/// Where and as whom to log in (moved onto the blocking thread).
struct Login {
    address: String,
    port: u16,
    account: String,
    credential: Secret,
    endpoint: String,
    reply_timeout: Duration,
}

fn io_detail(error: &std::io::Error, timeout: Duration) -> String {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("no answer within {} ms (timed out)", timeout.as_millis()),
        ErrorKind::ConnectionRefused => "nothing listens on the BMC's UDP port (connection refused)".to_owned(),
        _ => error.to_string(),
    }
}

fn refused(account: &str) -> String {
    format!("the BMC refused the credentials of account {account}")
}

/// Kind and words for a failed RMCP+ login.
fn activation_failure(error: &ActivationError, account: &str, timeout: Duration) -> (DriverErrorKind, String) {
    use DriverErrorKind::{Auth, Permanent, Transient};
    let receive = |error: &RmcpIpmiReceiveError| match error {
        RmcpIpmiReceiveError::Io(io) => io_detail(io, timeout),
        other => format!("malformed reply: {other:?}"),
    };
    match error {
        ActivationError::BindSocket(io) => (Transient, format!("cannot open a local UDP socket: {io}")),
        ActivationError::PingSend(io) | ActivationError::PongReceive(io) => (Transient, format!("RMCP ping: {}", io_detail(io, timeout))),
        ActivationError::PongRead | ActivationError::RmcpError(_) => (Transient, "malformed RMCP pong".to_owned()),
        ActivationError::IpmiNotSupported | ActivationError::NoSupportedIpmiLANVersions => {
            (Permanent, "the BMC does not offer IPMI over LAN (RMCP+)".to_owned())
        }
        ActivationError::GetChannelAuthenticationCapabilities(error) => match error {
            IpmiError::Connection(RmcpIpmiError::Receive(inner)) => (Transient, format!("channel capabilities: {}", receive(inner))),
            other => (Transient, format!("channel capabilities: {other:?}")),
        },
        ActivationError::V1_5(error) => (Permanent, format!("IPMI 1.5 login failed (only RMCP+ is supported): {error:?}")),
        ActivationError::V2_0(error) => match error {
            // RAKP 2's code did not match the password at the Administrator
            // role ipmi-rs always asks for: a wrong password, or (ipmi_sim)
            // an account limited below Administrator.
            V2_0ActivationError::ServerAuthenticationFailed => {
                (Auth, format!("{} (wrong password, or the account cannot have an Administrator session)", refused(account)))
            }
            V2_0ActivationError::RakpMessage4InvalidIntegrityCheckValue => (Auth, refused(account)),
            V2_0ActivationError::RakpMessage4Parse(RakpMessage4ParseError::ErrorStatusCode(
                RakpMessage4ErrorStatusCode::InvalidIntegrityCheckValue,
            )) => (Auth, refused(account)),
            V2_0ActivationError::RakpMessage2Parse(RakpMessage2ParseError::ErrorStatusCode(code)) => match code {
                RakpMessage2ErrorStatusCode::UnauthorizedName | RakpMessage2ErrorStatusCode::InvalidNameLength => (Auth, refused(account)),
                // ipmi-rs always asks for Administrator in RAKP 1; a BMC that
                // refuses it for an Operator-only account ends the login here.
                RakpMessage2ErrorStatusCode::InvalidRole | RakpMessage2ErrorStatusCode::UnauthorizedRoleOrPrivilegeLevelRequested => (
                    Auth,
                    format!("the BMC refused an Administrator session for account {account} (accounts limited to Operator cannot log in)"),
                ),
                other => (Transient, format!("the BMC refused the session: {other:?}")),
            },
            V2_0ActivationError::OpenSessionResponseReceive(inner)
            | V2_0ActivationError::RakpMessage2Receive(inner)
            | V2_0ActivationError::RakpMessage4Receive(inner) => (Transient, format!("RMCP+ login: {}", receive(inner))),
            V2_0ActivationError::OpenSessionResponseParse(parse) => {
                (Permanent, format!("the BMC refused an RMCP+ session with cipher suite 3: {parse:?}"))
            }
            other => (Transient, format!("RMCP+ login failed: {other:?}")),
        },
    }
}

impl Session {
    fn error(&self, kind: DriverErrorKind, detail: impl Into<String>) -> DriverError {
        DriverError::new(kind, self.operation, self.endpoint.clone(), detail)
    }

    /// Log in and raise the session's privilege.
    fn open(login: Login, operation: &'static str) -> Result<Session, DriverError> {
        let fail = |kind, detail: String| DriverError::new(kind, operation, login.endpoint.clone(), detail);
        // ipmi-rs silently logs in as the anonymous user when a name is too
        // long or not ASCII; refuse instead.
        if login.account.len() > 16 || !login.account.is_ascii() || login.account.contains('\0') {
            return Err(fail(DriverErrorKind::Permanent, "the IPMI account name must be at most 16 ASCII characters".to_owned()));
        }
        if login.credential.expose().len() > 20 {
            return Err(fail(DriverErrorKind::Permanent, "the IPMI password must be at most 20 bytes".to_owned()));
        }
        let mut rmcp = Rmcp::new((login.address.as_str(), login.port), login.reply_timeout)
            .map_err(|e| fail(DriverErrorKind::Permanent, format!("cannot resolve the BMC address: {e}")))?;
        rmcp.activate(true, Some(&login.account), Some(login.credential.expose().as_bytes())).map_err(|error| {
            let (kind, detail) = activation_failure(&error, &login.account, login.reply_timeout);
            fail(kind, detail)
        })?;
        let mut session = Session { ipmi: Ipmi::new(rmcp), operation, endpoint: login.endpoint, reply_timeout: login.reply_timeout };
        match session.run("Set Session Privilege Level", SetSessionPrivilegeLevel(Privilege::Administrator)) {
            Ok(_) => {}
            // The account is limited below Administrator: Operator is enough
            // for chassis control (compat §4.3).
            Err(error) if error.kind == DriverErrorKind::Auth => {
                session.run("Set Session Privilege Level", SetSessionPrivilegeLevel(Privilege::Operator))?;
            }
            Err(error) => return Err(error),
        }
        Ok(session)
    }

    /// Send one command and decode its reply.
    fn run<C>(&mut self, name: &str, command: C) -> Result<C::Output, DriverError>
    where
        C: IpmiCommand,
        C::Error: std::fmt::Debug,
    {
        self.ipmi.send_recv(command).map_err(|error| {
            let (kind, detail) = match error {
                IpmiError::Connection(RmcpIpmiError::Receive(RmcpIpmiReceiveError::Io(io))) => {
                    (DriverErrorKind::Transient, io_detail(&io, self.reply_timeout))
                }
                IpmiError::Connection(other) => (DriverErrorKind::Transient, format!("{other:?}")),
                IpmiError::Failed { completion_code, .. } => completion_failure(completion_code),
                IpmiError::Command { completion_code: Some(code), .. } => completion_failure(code),
                IpmiError::Command { error, .. } => (DriverErrorKind::Transient, format!("unexpected reply: {error:?}")),
                IpmiError::UnexpectedResponse { .. } | IpmiError::NetFnIsResponse(_) => {
                    (DriverErrorKind::Transient, "the reply does not match the request".to_owned())
                }
            };
            self.error(kind, format!("{name}: {detail}"))
        })
    }

    /// Close the session (best effort; a BMC keeps only a few sessions and
    /// this driver opens one per operation). ipmi-rs keeps the session id
    /// private and ipmi_sim refuses Close Session by handle (0x87), so the
    /// id is read from the connection's `Debug` output, which ipmi-rs
    /// redacts of the password and keys. Should that format change, the
    /// session is left to the BMC's idle timeout (the `ipmi_sim` test that
    /// counts active sessions would then fail).
    fn close(mut self) {
        let Some(session_id) = session_id_of(&format!("{:?}", self.ipmi.inner_mut())) else {
            tracing::debug!(endpoint = %self.endpoint, "IPMI session id not found; session left to time out");
            return;
        };
        if let Err(error) = self.run("Close Session", CloseSession { session_id }) {
            tracing::debug!(endpoint = %self.endpoint, %error, "IPMI Close Session failed");
        }
    }

    fn power(&mut self) -> Result<PowerState, DriverError> {
        let status = self.run("Get Chassis Status", GetChassisStatus)?;
        Ok(if status.power_on { PowerState::On } else { PowerState::Off })
    }
}

/// The managed-system session id in ipmi-rs's `Debug` of an active RMCP+
/// connection (`..., session_id: 1234, ...`).
fn session_id_of(debug: &str) -> Option<u32> {
    let start = debug.find(" session_id: ")? + " session_id: ".len();
    let digits: String = debug[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|id| *id != 0)
}

fn completion_failure(code: CompletionErrorCode) -> (DriverErrorKind, String) {
    let kind = match code {
        CompletionErrorCode::InsufficientPrivilege | CompletionErrorCode::CommandSpecific(0x80..=0x82) => DriverErrorKind::Auth,
        CompletionErrorCode::NodeBusy
        | CompletionErrorCode::ProcessingTimeout
        | CompletionErrorCode::OutOfSpace
        | CompletionErrorCode::ResponseUnavailable { .. }
        | CompletionErrorCode::DestinationUnavailable
        | CompletionErrorCode::CannotExecuteCommandInCurrentState => DriverErrorKind::Transient,
        CompletionErrorCode::InvalidCommand | CompletionErrorCode::SubFunctionDisabled => DriverErrorKind::Unsupported,
        _ => DriverErrorKind::Permanent,
    };
    (kind, format!("the BMC answered completion code {code:?}"))
}

/// How the blocking pool's errors word IPMI failures.
const WORDING: Wording = Wording { library: "the IPMI library", work: "IPMI session" };

impl IpmiDriver {
    /// A driver with `config`.
    pub fn new(config: IpmiConfig) -> Self {
        IpmiDriver { config }
    }

    /// Run `work` inside one session with the node's BMC.
    async fn with_session<T, F>(&self, target: &OobTarget, operation: &'static str, work: F) -> Result<T, DriverError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, DriverError> + Send + 'static,
    {
        let port = target.port.unwrap_or(DEFAULT_PORT);
        let endpoint = format!("{}:{port}", target.address);
        let login = Login {
            address: target.address.clone(),
            port,
            account: target.account.clone(),
            credential: target.credential.clone(),
            endpoint: endpoint.clone(),
            reply_timeout: self.config.reply_timeout,
        };
        tracing::debug!(node = %target.node, endpoint = %endpoint, operation, account = %target.account, "IPMI session");
        let secrets = vec![target.credential.expose().to_owned()];
        contained(WORDING, operation, &endpoint, self.config.session_deadline, secrets, move || {
            let mut session = Session::open(login, operation)?;
            let result = work(&mut session);
            session.close();
            result
        })
        .await
    }

    /// The boot flags the BMC reports (System Boot Options parameter 5).
    pub async fn boot_flags(&self, target: &OobTarget) -> Result<BootFlagsReply, DriverError> {
        self.with_session(target, "boot_flags", |session| session.run("Get System Boot Options", GetBootFlags)).await
    }
}

#[async_trait]
impl OobDriver for IpmiDriver {
    fn name(&self) -> &'static str {
        "ipmi"
    }
    fn oob_types(&self) -> &'static [&'static str] {
        &["ipmi"]
    }
    async fn check(&self, target: &OobTarget) -> Result<(), DriverError> {
        self.with_session(target, "check", |_| Ok(())).await
    }
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        self.with_session(target, "power_state", Session::power).await
    }
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        self.with_session(target, "power_action", move |session| {
            let on = session.power()? == PowerState::On;
            let command = match (action, on) {
                (PowerAction::On, true) | (PowerAction::HardOff | PowerAction::SoftOff, false) => return Ok(()),
                (PowerAction::On, false) => ChassisCommand::PowerUp,
                (PowerAction::HardOff, true) => ChassisCommand::PowerDown,
                (PowerAction::SoftOff, true) => ChassisCommand::SoftShutdown,
                (PowerAction::Cycle, true) => ChassisCommand::PowerCycle,
                // A power cycle has no effect on a machine that is off
                // (IPMI 2.0 §28.3): power it on instead.
                (PowerAction::Cycle, false) => ChassisCommand::PowerUp,
            };
            session.run("Chassis Control", ChassisControl(command))
        })
        .await
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        self.with_session(target, "set_boot_device", move |session| {
            // As pyghmi: keep the flags across a watchdog reset first; a BMC
            // that does not know parameter 3 is no reason to stop.
            match session.run("Set System Boot Options (3)", SetBootFlagValidBitClearing(0x08)) {
                Err(error) if matches!(error.kind, DriverErrorKind::Transient | DriverErrorKind::Auth) => return Err(error),
                _ => {}
            }
            let wanted = BootFlags::for_device(device, persistent);
            session.run("Set System Boot Options (5)", SetBootFlags(wanted))?;
            // Read back. The device selector must match; the "valid" bit is
            // not required (compat: ipmi_sim, and some BMCs, always read it
            // back clear; pyghmi would report `default` there).
            let reply = session.run("Get System Boot Options (5)", GetBootFlags)?;
            if reply.flags.selector != wanted.selector {
                return Err(session.error(
                    DriverErrorKind::Permanent,
                    format!("the BMC reports boot device selector {} after {device:?} was set", reply.flags.selector),
                ));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_and_overruns_are_worded_for_ipmi() {
        let error = contained::<(), _>(WORDING, "power_state", "10.0.0.1:623", Duration::from_secs(5), vec!["hunter2".into()], || {
            panic!("ipmi-rs blew up with hunter2")
        })
        .await
        .expect_err("panic contained");
        assert_eq!(error.kind(), DriverErrorKind::Transient);
        assert!(error.to_string().contains("the IPMI library panicked") && error.to_string().contains("10.0.0.1:623"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = contained::<(), _>(WORDING, "power_state", "10.0.0.1:623", Duration::from_millis(100), Vec::new(), || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        })
        .await
        .expect_err("deadline");
        assert!(error.to_string().contains("timed out: the IPMI session did not finish within 100 ms"), "{error}");
    }

    #[test]
    fn session_ids_are_found_in_the_connection_debug_text() {
        let debug = "Rmcp { active_state: Some(RmcpWithState(V2_0(State { socket: RmcpIpmiSocket { buffer: [0, 1] }, \
                     session_id: 3735928559, session_sequence_number: 4, state: CryptoState { password: \"<redacted>\" } })) }";
        assert_eq!(session_id_of(debug), Some(3_735_928_559));
        assert_eq!(session_id_of("OpenSessionRequest { remote_console_session_id: 7 }"), None);
        assert_eq!(session_id_of("Rmcp { active_state: None }"), None);
    }

    #[tokio::test]
    async fn bad_account_names_are_refused_before_any_traffic() {
        let target = OobTarget {
            node: "n1".into(),
            oob_type: "ipmi".into(),
            address: "127.0.0.1".into(),
            port: Some(9),
            account: "an-account-name-longer-than-16".into(),
            credential: Secret::new("password"),
            parameters: Default::default(),
        };
        let error = IpmiDriver::default().power_state(&target).await.expect_err("refused");
        assert_eq!(error.kind(), DriverErrorKind::Permanent, "{error}");
        assert!(error.to_string().contains("16 ASCII"), "{error}");
    }
}
