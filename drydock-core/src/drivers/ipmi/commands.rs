//! Typed IPMI commands ipmi-rs does not ship (compat: drivers spec §4.2):
//! Set Session Privilege Level, Close Session, Get Chassis
//! Status, Chassis Control and Set/Get System Boot Options (parameters 3 and
//! 5), each implementing ipmi-rs's `IpmiCommand` so the crate frames, sends
//! and checks the completion code.

use ipmi_rs::connection::{IpmiCommand, Message, NetFn, NotEnoughData};

use crate::drivers::BootDevice;

/// Session privilege levels (IPMI 2.0 §22.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Operator (3): enough for chassis control.
    Operator,
    /// Administrator (4).
    Administrator,
}

impl Privilege {
    fn value(self) -> u8 {
        match self {
            Privilege::Operator => 3,
            Privilege::Administrator => 4,
        }
    }
}

/// App 0x3B Set Session Privilege Level. RMCP+ sessions start at User level;
/// ipmi-rs never raises it, so every chassis write would fail with 0xD4.
/// Answers the level now in force.
#[derive(Debug, Clone, Copy)]
pub struct SetSessionPrivilegeLevel(pub Privilege);

impl From<SetSessionPrivilegeLevel> for Message {
    fn from(value: SetSessionPrivilegeLevel) -> Self {
        Message::new_request(NetFn::App, 0x3B, vec![value.0.value()])
    }
}

impl IpmiCommand for SetSessionPrivilegeLevel {
    type Output = u8;
    type Error = NotEnoughData;

    fn parse_success_response(data: &[u8]) -> Result<Self::Output, Self::Error> {
        data.first().map(|level| level & 0x0F).ok_or(NotEnoughData)
    }
}

/// App 0x3C Close Session (IPMI 2.0 §22.19): the managed-system session id,
/// least significant byte first.
#[derive(Debug, Clone, Copy)]
pub struct CloseSession {
    /// The session to close.
    pub session_id: u32,
}

impl From<CloseSession> for Message {
    fn from(value: CloseSession) -> Self {
        Message::new_request(NetFn::App, 0x3C, value.session_id.to_le_bytes().to_vec())
    }
}

impl IpmiCommand for CloseSession {
    type Output = ();
    type Error = NotEnoughData;

    fn parse_success_response(_: &[u8]) -> Result<Self::Output, Self::Error> {
        Ok(())
    }
}

/// What Get Chassis Status reports (the first three bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChassisStatus {
    /// Current power state, bit 0: system power is on.
    pub power_on: bool,
    /// Bit 1: power overload; bit 3: power fault.
    pub power_fault: bool,
    /// The raw current-power-state byte.
    pub power_byte: u8,
}

/// Chassis 0x01 Get Chassis Status.
#[derive(Debug, Clone, Copy)]
pub struct GetChassisStatus;

impl From<GetChassisStatus> for Message {
    fn from(_: GetChassisStatus) -> Self {
        Message::new_request(NetFn::Chassis, 0x01, Vec::new())
    }
}

impl IpmiCommand for GetChassisStatus {
    type Output = ChassisStatus;
    type Error = NotEnoughData;

    fn parse_success_response(data: &[u8]) -> Result<Self::Output, Self::Error> {
        if data.len() < 3 {
            return Err(NotEnoughData);
        }
        let power_byte = data[0];
        Ok(ChassisStatus { power_on: power_byte & 0x01 != 0, power_fault: power_byte & 0x0A != 0, power_byte })
    }
}

/// Chassis Control sub-commands (IPMI 2.0 §28.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChassisCommand {
    /// 0: power down (hard off).
    PowerDown,
    /// 1: power up.
    PowerUp,
    /// 2: power cycle (off, then on after a BMC-defined interval).
    PowerCycle,
    /// 5: soft shutdown via ACPI.
    SoftShutdown,
}

/// Chassis 0x02 Chassis Control.
#[derive(Debug, Clone, Copy)]
pub struct ChassisControl(pub ChassisCommand);

impl From<ChassisControl> for Message {
    fn from(value: ChassisControl) -> Self {
        let code = match value.0 {
            ChassisCommand::PowerDown => 0x00,
            ChassisCommand::PowerUp => 0x01,
            ChassisCommand::PowerCycle => 0x02,
            ChassisCommand::SoftShutdown => 0x05,
        };
        Message::new_request(NetFn::Chassis, 0x02, vec![code])
    }
}

impl IpmiCommand for ChassisControl {
    type Output = ();
    type Error = NotEnoughData;

    fn parse_success_response(_: &[u8]) -> Result<Self::Output, Self::Error> {
        Ok(())
    }
}

/// Boot flags (System Boot Options parameter 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootFlags {
    /// Flags byte 1 bit 7: the flags are valid.
    pub valid: bool,
    /// Bit 6: applies to every boot, not only the next one.
    pub persistent: bool,
    /// Bit 5: EFI boot rather than legacy BIOS.
    pub efi: bool,
    /// Flags byte 2 bits 5:2, the boot device selector (1 PXE, 2 disk,
    /// 3 disk safe mode, 5 CD/DVD, 6 BIOS setup, 15 floppy, 0 no override).
    pub selector: u8,
}

impl BootFlags {
    /// Flags asking for `device`, valid, once or every boot, legacy BIOS.
    pub fn for_device(device: BootDevice, persistent: bool) -> Self {
        let selector = match device {
            BootDevice::Pxe => 1,
            BootDevice::Disk => 2,
            BootDevice::Cdrom => 5,
            BootDevice::Bios => 6,
        };
        BootFlags { valid: true, persistent, efi: false, selector }
    }

    /// The device the selector names, if it is one drydock knows.
    pub fn device(&self) -> Option<BootDevice> {
        match self.selector {
            1 => Some(BootDevice::Pxe),
            2 | 3 => Some(BootDevice::Disk),
            5 => Some(BootDevice::Cdrom),
            6 => Some(BootDevice::Bios),
            _ => None,
        }
    }

    fn bytes(&self) -> [u8; 5] {
        let mut first = 0;
        if self.valid {
            first |= 0x80;
        }
        if self.persistent {
            first |= 0x40;
        }
        if self.efi {
            first |= 0x20;
        }
        [first, (self.selector & 0x0F) << 2, 0, 0, 0]
    }
}

/// Chassis 0x08 Set System Boot Options, parameter 5 (boot flags).
#[derive(Debug, Clone, Copy)]
pub struct SetBootFlags(pub BootFlags);

impl From<SetBootFlags> for Message {
    fn from(value: SetBootFlags) -> Self {
        let mut data = vec![0x05];
        data.extend_from_slice(&value.0.bytes());
        Message::new_request(NetFn::Chassis, 0x08, data)
    }
}

impl IpmiCommand for SetBootFlags {
    type Output = ();
    type Error = NotEnoughData;

    fn parse_success_response(_: &[u8]) -> Result<Self::Output, Self::Error> {
        Ok(())
    }
}

/// Chassis 0x08 Set System Boot Options, parameter 3 (boot flag valid bit
/// clearing): `0x08` keeps the flags across a watchdog reset, as pyghmi
/// sends before the boot flags.
#[derive(Debug, Clone, Copy)]
pub struct SetBootFlagValidBitClearing(pub u8);

impl From<SetBootFlagValidBitClearing> for Message {
    fn from(value: SetBootFlagValidBitClearing) -> Self {
        Message::new_request(NetFn::Chassis, 0x08, vec![0x03, value.0])
    }
}

impl IpmiCommand for SetBootFlagValidBitClearing {
    type Output = ();
    type Error = NotEnoughData;

    fn parse_success_response(_: &[u8]) -> Result<Self::Output, Self::Error> {
        Ok(())
    }
}

/// What Get System Boot Options parameter 5 answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootFlagsReply {
    /// The parameter-invalid bit (byte 2 bit 7) was clear.
    pub parameter_valid: bool,
    /// The flags.
    pub flags: BootFlags,
}

/// Chassis 0x09 Get System Boot Options, parameter 5.
#[derive(Debug, Clone, Copy)]
pub struct GetBootFlags;

impl From<GetBootFlags> for Message {
    fn from(_: GetBootFlags) -> Self {
        Message::new_request(NetFn::Chassis, 0x09, vec![0x05, 0x00, 0x00])
    }
}

impl IpmiCommand for GetBootFlags {
    type Output = BootFlagsReply;
    type Error = NotEnoughData;

    fn parse_success_response(data: &[u8]) -> Result<Self::Output, Self::Error> {
        // version, parameter (bit 7 = invalid), then the 5 flag bytes.
        if data.len() < 4 || data[1] & 0x7F != 0x05 {
            return Err(NotEnoughData);
        }
        let (first, second) = (data[2], data[3]);
        Ok(BootFlagsReply {
            parameter_valid: data[1] & 0x80 == 0,
            flags: BootFlags {
                valid: first & 0x80 != 0,
                persistent: first & 0x40 != 0,
                efi: first & 0x20 != 0,
                selector: (second >> 2) & 0x0F,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(message: impl Into<Message>) -> (u8, u8, Vec<u8>) {
        let message = message.into();
        (message.netfn_raw(), message.cmd(), message.data().to_vec())
    }

    #[test]
    fn requests_match_the_bytes_pyghmi_sends() {
        assert_eq!(wire(SetSessionPrivilegeLevel(Privilege::Administrator)), (0x06, 0x3B, vec![0x04]));
        assert_eq!(wire(GetChassisStatus), (0x00, 0x01, vec![]));
        assert_eq!(wire(ChassisControl(ChassisCommand::PowerDown)), (0x00, 0x02, vec![0x00]));
        assert_eq!(wire(ChassisControl(ChassisCommand::PowerUp)), (0x00, 0x02, vec![0x01]));
        assert_eq!(wire(ChassisControl(ChassisCommand::PowerCycle)), (0x00, 0x02, vec![0x02]));
        assert_eq!(wire(ChassisControl(ChassisCommand::SoftShutdown)), (0x00, 0x02, vec![0x05]));
        assert_eq!(wire(SetBootFlagValidBitClearing(0x08)), (0x00, 0x08, vec![0x03, 0x08]));
        // compat §4.2: `05 80 04 00 00 00` = valid, next boot only, legacy, PXE.
        assert_eq!(wire(SetBootFlags(BootFlags::for_device(BootDevice::Pxe, false))), (0x00, 0x08, vec![5, 0x80, 0x04, 0, 0, 0]));
        assert_eq!(wire(SetBootFlags(BootFlags::for_device(BootDevice::Pxe, true))), (0x00, 0x08, vec![5, 0xC0, 0x04, 0, 0, 0]));
        assert_eq!(wire(SetBootFlags(BootFlags::for_device(BootDevice::Disk, false))).2[2], 0x08);
        assert_eq!(wire(SetBootFlags(BootFlags::for_device(BootDevice::Cdrom, false))).2[2], 0x14);
        assert_eq!(wire(SetBootFlags(BootFlags::for_device(BootDevice::Bios, false))).2[2], 0x18);
        assert_eq!(wire(GetBootFlags), (0x00, 0x09, vec![0x05, 0x00, 0x00]));
        assert_eq!(wire(CloseSession { session_id: 0x0403_0201 }), (0x06, 0x3C, vec![1, 2, 3, 4]));
    }

    #[test]
    fn replies_decode() {
        let status = GetChassisStatus::parse_success_response(&[0x01, 0x00, 0x40]).expect("status");
        assert!(status.power_on && !status.power_fault);
        assert!(!GetChassisStatus::parse_success_response(&[0x00, 0x00, 0x00]).expect("status").power_on);
        assert_eq!(GetChassisStatus::parse_success_response(&[0x01]), Err(NotEnoughData));

        // ipmi_sim's reply after "bootdev pxe": selector PXE, valid bit clear.
        let reply = GetBootFlags::parse_success_response(&[0x01, 0x05, 0x00, 0x04, 0x00, 0x00, 0x00]).expect("flags");
        assert!(reply.parameter_valid);
        assert_eq!(reply.flags, BootFlags { valid: false, persistent: false, efi: false, selector: 1 });
        assert_eq!(reply.flags.device(), Some(BootDevice::Pxe));
        let persistent = GetBootFlags::parse_success_response(&[0x01, 0x05, 0xE0, 0x08, 0, 0, 0]).expect("flags");
        assert_eq!((persistent.flags.valid, persistent.flags.persistent, persistent.flags.efi), (true, true, true));
        assert_eq!(persistent.flags.device(), Some(BootDevice::Disk));
        assert!(!GetBootFlags::parse_success_response(&[0x01, 0x85, 0, 0]).expect("flags").parameter_valid);
        assert_eq!(GetBootFlags::parse_success_response(&[0x01, 0x04, 0, 0]), Err(NotEnoughData), "another parameter");
        assert_eq!(SetSessionPrivilegeLevel::parse_success_response(&[0x04]), Ok(4));
    }
}
