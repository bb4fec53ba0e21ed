export {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeSafetensors,
  type DType,
  type NamedTensor,
  type SafetensorsContent,
  type TensorData,
} from './safetensors.js';
