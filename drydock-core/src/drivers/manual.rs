//! The manual OOB driver (`oob.type: manual`, compat: drivers spec §6.2): a
//! person powers and boots the machine. Requests are recorded and logged
//! for the operator; the recorded state is reported back, so the shared
//! power step proceeds at once (the original slept 60 s per action instead).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BootDevice, DriverError, OobDriver, OobTarget, PowerAction, PowerState};

/// The manual driver.
#[derive(Debug, Default)]
pub struct ManualDriver {
    power: Mutex<HashMap<String, PowerState>>,
}

impl ManualDriver {
    /// A driver with nothing recorded.
    pub fn new() -> Self {
        ManualDriver::default()
    }
}

#[async_trait]
impl OobDriver for ManualDriver {
    fn name(&self) -> &'static str {
        "manual"
    }
    fn oob_types(&self) -> &'static [&'static str] {
        &["manual"]
    }
    async fn check(&self, _: &OobTarget) -> Result<(), DriverError> {
        Ok(())
    }
    async fn power_state(&self, target: &OobTarget) -> Result<PowerState, DriverError> {
        let power = self
            .power
            .lock()
            .map_err(|_| DriverError::new(super::DriverErrorKind::Permanent, "power_state", target.node.as_str(), "state lock poisoned"))?;
        Ok(power.get(target.node.as_str()).copied().unwrap_or(PowerState::Unknown))
    }
    async fn power_action(&self, target: &OobTarget, action: PowerAction) -> Result<(), DriverError> {
        tracing::warn!(node = %target.node, ?action, "manual OOB: the operator must perform this power action");
        let state = match action {
            PowerAction::On | PowerAction::Cycle => PowerState::On,
            PowerAction::HardOff | PowerAction::SoftOff => PowerState::Off,
        };
        if let Ok(mut power) = self.power.lock() {
            power.insert(target.node.0.clone(), state);
        }
        Ok(())
    }
    async fn set_boot_device(&self, target: &OobTarget, device: BootDevice, persistent: bool) -> Result<(), DriverError> {
        tracing::warn!(node = %target.node, ?device, persistent, "manual OOB: the operator must set the boot device");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_what_the_operator_was_asked() {
        let driver = ManualDriver::new();
        let target = OobTarget {
            node: "n1".into(),
            oob_type: "manual".into(),
            address: String::new(),
            port: None,
            account: String::new(),
            credential: Default::default(),
            parameters: Default::default(),
        };
        assert_eq!(driver.power_state(&target).await, Ok(PowerState::Unknown));
        driver.power_action(&target, PowerAction::HardOff).await.expect("off");
        assert_eq!(driver.power_state(&target).await, Ok(PowerState::Off));
        driver.set_boot_device(&target, BootDevice::Pxe, false).await.expect("pxe");
        driver.power_action(&target, PowerAction::On).await.expect("on");
        assert_eq!(driver.power_state(&target).await, Ok(PowerState::On));
    }
}
