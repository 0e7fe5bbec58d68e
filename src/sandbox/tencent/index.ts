export {
  createTencentEmulator,
  ESS_CALLBACK_EVENTS,
  ESS_SANDBOX_ACCOUNT,
  ESS_VERSION,
  type TencentActionStats,
  type TencentEmulator,
  type TencentEmulatorOptions,
  type TencentEmulatorSettings,
} from './emulator';
export { ESS_FLOW_STATUSES, type EssFlow, type EssFlowStatus } from './flows';
