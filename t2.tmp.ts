import { initBackend } from './src/backend.ts';
try {
  const i = await initBackend({ backend: 'webgpu' });
  console.log('OK', i.name);
} catch (e) {
  console.log('ERR', (e as Error).message);
}
