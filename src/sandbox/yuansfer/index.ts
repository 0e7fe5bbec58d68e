export {
  createYuansferEmulator,
  DEFAULT_MERCHANT_NO as YUANSFER_SANDBOX_MERCHANT_NO,
  DEFAULT_STORE_NO as YUANSFER_SANDBOX_STORE_NO,
  DEFAULT_TOKEN as YUANSFER_SANDBOX_TOKEN,
  YUANSFER_IPN_EVENTS,
  type AuthorizationView,
  type CreateAuthorizationInput,
  type YuansferEmulator,
  type YuansferEmulatorOptions,
} from './emulator';
export { RET as YUANSFER_RET_CODES } from './api';
