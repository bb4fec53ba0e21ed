export {
  assertNamedTensor,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeSafetensors,
  type DType,
  type NamedTensor,
  type SafetensorsContent,
  type TensorData,
} from './safetensors.js';
export { encodeTorchStateDict, writeTorchStateDict } from './torchzip.js';
