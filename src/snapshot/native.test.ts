import { snapshotterSuite } from "./testsuite.js";
import { openNativeSnapshotter } from "./native.js";

snapshotterSuite("native (copy-based)", openNativeSnapshotter);
