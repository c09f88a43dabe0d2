import { checkedDriver } from '../../src/storage/checked-driver.js';
import { memoryDriver } from '../../src/storage/memory-driver.js';
import { storageContract } from './storage-contract.js';

// Memory holds objects whole: the large-object cases run at 8 MiB here.
storageContract('memory', async () => {
  const driver = checkedDriver(memoryDriver());
  return { driver, cleanup: () => driver.close() };
}, { largeObjectBytes: 8 * 1024 * 1024 + 3 });
