export {
  createEsignEmulator,
  ESIGN_CALLBACK_ACTIONS,
  ESIGN_CALLBACK_DELAYS_MS,
  ESIGN_CALLBACK_RETRIES,
  ESIGN_SAMPLE_APP_ID,
  ESIGN_SAMPLE_APP_SECRET,
  type EsignEmulator,
  type EsignEmulatorOptions,
  type EsignFlowView,
} from './emulator';
export { ESIGN_CODES as ESIGN_EMULATOR_CODES, RESCISSION_DISALLOWED_MESSAGE } from './api';
