import Foundation

/// Reads an image file's bytes safely: regular files only (a FIFO or device is refused at once instead of
/// blocking), a permission problem named as such, and a size bound checked before reading.
enum ImageFile {
    /// The most bytes an image file may have (1 GiB): larger files are refused before they are read.
    static let maximumFileSize = 1 << 30

    /// The bytes of the regular file at `path`.
    /// - Throws: `DataError` `.notARegularFile` for FIFOs, sockets, devices and folders, `.permissionDenied` when
    ///   the file cannot be opened for reading, `.invalidImage` when it is missing, empty or cannot be read.
    static func read(_ path: String) throws(DataError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO without a writer returns at once, so the type check below can refuse it.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw openError(path, errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw openError(path, errno: errno) }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else { throw notARegularFile(path, type: type) }
        let size = Int(status.st_size)
        guard size > 0 else {
            throw DataError(.invalidImage, path: path, "image file is empty (0 bytes)", hint: "re-export the image, or delete it")
        }
        guard size <= maximumFileSize else {
            throw DataError(.imageTooLarge, path: path, "image file is \(size) bytes, more than the 1 GiB lrt reads",
                            hint: "shrink the image, or delete it")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + offset, size - offset, off_t(offset)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let reason = count < 0 ? String(cString: strerror(errno)) : "the file shrank while it was read"
                throw DataError(.invalidImage, path: path, "cannot read image file (\(reason))", hint: "check the disk, or delete the file")
            }
            offset += count
        }
        return bytes
    }

    /// The error for a failed `open` or `stat`, naming permission problems and symlink loops as such.
    static func openError(_ path: String, errno code: Int32) -> DataError {
        let reason = String(cString: strerror(code))
        switch code {
        case EACCES, EPERM:
            return DataError(.permissionDenied, path: path, "cannot read image file: permission denied",
                             hint: "give yourself read permission (chmod u+r), or delete the file")
        case ELOOP:
            return DataError(.invalidImage, path: path, "image path is a symbolic link loop (\(reason))",
                             hint: "fix or delete the link")
        default:
            return DataError(.invalidImage, path: path, "cannot open image file (\(reason))", hint: "check the path")
        }
    }

    /// The error for a path that is not a regular file, saying what it is.
    static func notARegularFile(_ path: String, type: mode_t) -> DataError {
        let what: String
        switch type {
        case S_IFIFO: what = "a FIFO (named pipe)"
        case S_IFSOCK: what = "a socket"
        case S_IFCHR: what = "a character device"
        case S_IFBLK: what = "a block device"
        case S_IFDIR: what = "a folder"
        default: what = "not a regular file"
        }
        return DataError(.notARegularFile, path: path, "image path is \(what), not a regular file",
                         hint: "remove it from the dataset folder")
    }
}
