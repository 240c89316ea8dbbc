import CHDF5
import Foundation
import LRTHDF5
import XCTest

/// Files crafted with the C API that point outside themselves: external raw storage, an
/// external link and a virtual dataset. lrt reads only the file it was given, so each is
/// refused by name before a byte of the other file is read.
final class ExternalReferenceTests: HDF5TestCase {
    /// A file `secret.bin` whose 16 bytes are four float32 values a crafted file may point to.
    private func writeSecret() throws -> String {
        let secret = temporaryPath("secret.bin")
        let values: [Float] = [1, 2, 3, 4]
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: secret)) }
        return secret
    }

    /// Creates `name` with the raw C API; `body` gets the file id.
    private func craft(_ name: String, _ body: (hid_t) -> Void) -> String {
        let path = temporaryPath(name)
        let file = H5Fcreate(path, lrt_H5F_ACC_TRUNC(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT())
        precondition(file >= 0, "cannot create \(path)")
        body(file)
        precondition(H5Fclose(file) >= 0)
        return path
    }

    /// Writes a contiguous float32 dataset `name` [values.count] at the root of `file`.
    private func writeFloats(_ file: hid_t, _ name: String, _ values: [Float]) {
        var dimensions: [hsize_t] = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dimensions, nil)
        let dataset = H5Dcreate2(file, name, lrt_H5T_IEEE_F32LE(), space, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT())
        precondition(H5Dwrite(dataset, lrt_H5T_NATIVE_FLOAT(), lrt_H5S_ALL(), lrt_H5S_ALL(), lrt_H5P_DEFAULT(), values) >= 0)
        H5Dclose(dataset)
        H5Sclose(space)
    }

    /// Creates dataset `kernel` [4] float32 without writing it, with creation properties set
    /// by `configure(properties, space)` (external storage, a virtual mapping).
    private func createKernel(_ file: hid_t, configure: (_ properties: hid_t, _ space: hid_t) -> Void) {
        var dimensions: [hsize_t] = [4]
        let space = H5Screate_simple(1, &dimensions, nil)
        let properties = H5Pcreate(lrt_H5P_DATASET_CREATE())
        configure(properties, space)
        let dataset = H5Dcreate2(file, "kernel", lrt_H5T_IEEE_F32LE(), space, lrt_H5P_DEFAULT(), properties, lrt_H5P_DEFAULT())
        precondition(dataset >= 0)
        H5Dclose(dataset)
        H5Pclose(properties)
        H5Sclose(space)
    }

    /// Dataset `kernel` [4] float32 whose storage is the external file `secret.bin`.
    func testExternalRawStorageIsRefused() throws {
        _ = try writeSecret()
        let path = craft("external-storage.h5") { file in
            createKernel(file) { properties, _ in precondition(H5Pset_external(properties, "secret.bin", 0, 16) >= 0) }
        }
        let root = try HDF5File.openForReading(atPath: path).root
        assertHDF5Error(try root.readFloats("kernel"), kind: .externalReference, mentions: [path, "/kernel", "external file"])
        assertHDF5Error(try root.datasetShape("kernel"), kind: .externalReference, mentions: [path, "/kernel"])
    }

    /// Group member `weights` is an external link to `other.h5:/weights`.
    func testExternalLinksAreRefused() throws {
        let other = craft("other.h5") { writeFloats($0, "weights", [5, 6]) }
        let path = craft("external-link.h5") { file in
            let group = H5Gcreate2(file, "model_weights", lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT())
            precondition(H5Lcreate_external(other, "/weights", group, "kernel", lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()) >= 0)
            precondition(H5Lcreate_external(other, "/", file, "linked_group", lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()) >= 0)
            H5Gclose(group)
        }
        let root = try HDF5File.openForReading(atPath: path).root
        let weights = try root.openGroup("model_weights")
        XCTAssertEqual(try weights.memberNames(), ["kernel"])
        assertHDF5Error(try weights.readFloats("kernel"), kind: .externalReference,
                        mentions: [path, "/model_weights/kernel", "external link"])
        assertHDF5Error(try root.openGroup("linked_group"), kind: .externalReference, mentions: ["/linked_group", "external link"])
        assertHDF5Error(try root.readFloats("linked_group/weights"), kind: .externalReference, mentions: ["/linked_group"])
        XCTAssertFalse(root.contains("model_weights/kernel"), "an external link does not count as a member that exists")
    }

    /// Dataset `kernel` [4] is a virtual dataset mapping `source.h5:/data`.
    func testVirtualDatasetsAreRefused() throws {
        _ = craft("source.h5") { writeFloats($0, "data", [9, 9, 9, 9]) }
        let path = craft("virtual.h5") { file in
            createKernel(file) { properties, space in
                precondition(H5Pset_virtual(properties, space, "source.h5", "/data", space) >= 0)
            }
        }
        let root = try HDF5File.openForReading(atPath: path).root
        assertHDF5Error(try root.readFloats("kernel"), kind: .externalReference, mentions: [path, "/kernel", "virtual dataset"])
    }

    /// Soft links inside the file stay readable: only links out of the file are refused.
    func testSoftLinksInsideTheFileAreRead() throws {
        let path = craft("soft-link.h5") { file in
            writeFloats(file, "data", [1, 2])
            precondition(H5Lcreate_soft("/data", file, "alias", lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()) >= 0)
        }
        XCTAssertEqual(try HDF5File.openForReading(atPath: path).root.readFloats("alias").values, [1, 2])
    }
}
