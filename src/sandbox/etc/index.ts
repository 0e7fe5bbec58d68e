export { createEtcEmulator, ETC_CALLBACK_EVENT, type EtcEmulator, type EtcEmulatorOptions, type EtcFlowView } from './emulator';
export { BUSINESS_CODES as ETC_BUSINESS_CODES, GATEWAY_CODES as ETC_GATEWAY_CODES, type EtcEnvelope } from './gateway';
export { ETC_SAMPLE_APP_ID, ETC_SAMPLE_PUBLIC_KEY } from './signature';
