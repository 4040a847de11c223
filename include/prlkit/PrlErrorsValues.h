/* prlkit — result codes with the Parallels SDK's values.
 *
 * One list, PRLK_ERROR_LIST, is the single source of every code: it generates the
 * constants below, PrlApi_GetResultDescription and prl_result_to_string. A failure is
 * 0x80000000 plus the SDK's decimal ordinal written as hex digits. Values never change. */
#ifndef PRLKIT_PRLERRORSVALUES_H
#define PRLKIT_PRLERRORSVALUES_H

#include "PrlTypes.h"

/* X(name, value, description) */
#define PRLK_ERROR_LIST(X) \
  X(PRL_ERR_SUCCESS, 0x00000000, "The operation completed successfully.") \
  X(PRL_ERR_UNEXPECTED, 0x80000001, "An unexpected error occurred.") \
  X(PRL_ERR_OUT_OF_MEMORY, 0x80000002, "Not enough memory to complete the operation.") \
  X(PRL_ERR_INVALID_ARG, 0x80000003, "An invalid argument was passed to the function.") \
  X(PRL_ERR_INVALID_HANDLE, 0x80000004, "The handle is invalid, stale or of the wrong type.") \
  X(PRL_ERR_ACCESS_DENIED, 0x80000005, "Access denied: the platform refused the operation for these credentials.") \
  X(PRL_ERR_BUFFER_OVERRUN, 0x80000006, "The buffer is too small; the required size was returned.") \
  X(PRL_ERR_UNINITIALIZED, 0x80000007, "The object is not initialized.") \
  X(PRL_ERR_UNIMPLEMENTED, 0x80000008, "The operation is not supported by this driver.") \
  X(PRL_ERR_FAILURE, 0x80000009, "The operation failed.") \
  X(PRL_ERR_FILE_NOT_FOUND, 0x80000010, "The file was not found.") \
  X(PRL_ERR_DOUBLE_INIT, 0x80000011, "The object is already initialized.") \
  X(PRL_ERR_OPERATION_PENDING, 0x80000013, "The operation has not finished yet.") \
  X(PRL_ERR_NO_DATA, 0x80000014, "There is no data to return.") \
  X(PRL_ERR_TIMEOUT, 0x80000015, "The wait timed out; the operation goes on.") \
  X(PRL_ERR_OPERATION_FAILED, 0x80000016, "The platform failed to carry out the operation.") \
  X(PRL_ERR_PARAM_NOT_FOUND, 0x80000017, "The requested parameter does not exist.") \
  X(PRL_ERR_INVALID_PARAM, 0x80000018, "A parameter has an invalid value.") \
  X(PRL_ERR_VM_START_FAILED, 0x80000041, "The virtual machine failed to start.") \
  X(PRL_ERR_VM_POWER_OFF_FAILED, 0x80000045, "The virtual machine failed to stop.") \
  X(PRL_ERR_VM_GET_CONFIG_FAILED, 0x80000049, "The virtual machine configuration could not be read.") \
  X(PRL_ERR_VM_ALREADY_SUSPENDED, 0x80000050, "The virtual machine is already suspended.") \
  X(PRL_ERR_USER_OPERATION_NOT_AUTHORISED, 0x80000059, "The user is not authorised to perform this operation.") \
  X(PRL_ERR_VM_ALREADY_REGISTERED_VM_UUID, 0x80000062, "A virtual machine with this id already exists.") \
  X(PRL_ERR_ENTRY_DOES_NOT_EXIST, 0x80000079, "The entry does not exist.") \
  X(PRL_ERR_ENTRY_ALREADY_EXISTS, 0x80000080, "The entry already exists.") \
  X(PRL_ERR_UNRECOGNIZED_REQUEST, 0x80000091, "The request was not recognized.") \
  X(PRL_ERR_TASK_NOT_FOUND, 0x80000092, "The task was not found.") \
  X(PRL_ERR_VM_UUID_NOT_FOUND, 0x80000105, "The virtual machine was not found.") \
  X(PRL_ERR_INCONSISTENCY_VM_CONFIG, 0x80000106, "The virtual machine configuration is inconsistent.") \
  X(PRL_ERR_VM_CONFIG_WAS_CHANGED, 0x80000112, "The virtual machine configuration was changed by someone else.") \
  X(PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME, 0x80000115, "A virtual machine with this name already exists.") \
  X(PRL_ERR_VM_ALREADY_CREATED, 0x80000124, "The virtual machine already exists.") \
  X(PRL_ERR_VM_NOT_CREATED, 0x80000125, "The virtual machine could not be created.") \
  X(PRL_ERR_VM_REQUEST_NOT_SUPPORTED, 0x80000201, "The virtual machine does not support this request.") \
  X(PRL_ERR_INVALID_MEMORY_SIZE, 0x80000204, "The memory size is invalid.") \
  X(PRL_ERR_VM_EMPTY_NAME_OF_CLONE, 0x80000231, "The name of the clone is empty.") \
  X(PRL_ERR_VM_DOES_NOT_STOPPED, 0x80000241, "The virtual machine is not stopped.") \
  X(PRL_ERR_CANT_CONNECT_TO_DISPATCHER, 0x80000249, "Cannot connect to the virtualization platform.") \
  X(PRL_ERR_NOT_CONNECTED_TO_DISPATCHER, 0x80000251, "Not connected to a virtualization platform.") \
  X(PRL_ERR_OPERATION_WAS_CANCELED, 0x80000275, "The operation was cancelled.") \
  X(PRL_ERR_WRONG_CONNECTION_SECURITY_LEVEL, 0x80000277, "The connection security level is not acceptable.") \
  X(PRL_ERR_VM_CONFIG_DOESNT_EXIST, 0x80000283, "The virtual machine configuration does not exist.") \
  X(PRL_ERR_API_WASNT_INITIALIZED, 0x80000287, "The API was not initialized: call PrlApi_InitEx first.") \
  X(PRL_ERR_VM_CANT_CLONE_RUNNING, 0x80000292, "A running virtual machine cannot be cloned.") \
  X(PRL_ERR_VM_CANT_DELETE_RUNNING, 0x80000293, "A running virtual machine cannot be deleted.") \
  X(PRL_ERR_IO_CONNECTION_TIMEOUT, 0x80000303, "The connection to the platform timed out.") \
  X(PRL_ERR_NOT_ENOUGH_DISK_FREE_SPACE, 0x80000307, "There is not enough free disk space.") \
  X(PRL_ERR_CONFIG_EDIT_COLLISION, 0x80000323, "The configuration was edited concurrently; begin the edit again.") \
  X(PRL_ERR_AUTHENTICATION_FAILED, 0x80000330, "Authentication failed: check the user name and credentials.") \
  X(PRL_ERR_CONFIG_BEGIN_EDIT_NOT_FOUND_OBJECT_UUID, 0x80000346, "Commit without a matching BeginEdit.") \
  X(PRL_ERR_INVALID_CONFIGURATION, 0x80000365, "The configuration is invalid.") \
  X(PRL_ERR_CANT_TO_START_VM_TEMPLATE, 0x80000368, "A template cannot be started.") \
  X(PRL_ERR_DISP_VM_IS_NOT_STARTED, 0x80000377, "The virtual machine is not started.") \
  X(PRL_ERR_IO_NO_CONNECTION, 0x80000401, "There is no connection to the platform.") \
  X(PRL_ERR_VM_ALREADY_RUNNING, 0x80000402, "The virtual machine is already running.") \
  X(PRL_ERR_WRONG_PROTOCOL_VERSION, 0x80000413, "The protocol version is not supported.") \
  X(PRL_ERR_VM_IS_NOT_SUSPENDED, 0x80000420, "The virtual machine is not suspended.") \
  X(PRL_ERR_API_INCOMPATIBLE, 0x80000422, "The requested API version is not supported by this library.") \
  X(PRL_ERR_VM_SNAPSHOT_NOT_FOUND, 0x80000472, "The snapshot was not found.") \
  X(PRL_ERR_VM_IS_EXCLUSIVELY_LOCKED, 0x80000476, "The virtual machine is locked by another operation.") \
  X(PRL_ERR_WRONG_VM_STATE, 0x80000489, "The virtual machine is in a state that does not allow this operation.") \
  X(PRL_ERR_INVALID_ACTION_REQUESTED, 0x80000516, "The requested action is invalid.") \
  X(PRL_ERR_DISP_VM_IS_NOT_STOPPED, 0x80000557, "The virtual machine is not stopped.") \
  X(PRL_ERR_VM_EDIT_UNABLE_CONVERT_TO_TEMPLATE, 0x80000576, "The virtual machine cannot be converted to a template in its current state.") \
  X(PRL_ERR_DISP_VM_IS_NOT_RUNNING, 0x80000595, "The virtual machine is not running.") \
  X(PRL_ERR_OBJECT_NOT_FOUND, 0x80042000, "The object was not found.") \
  X(PRL_ERR_TEMPLATE_NOT_FOUND, 0x80046401, "The template was not found.")

#define PRLK_ERROR_ENUM_ENTRY_(name, value, desc) name = (PRL_RESULT)(value),
enum { PRLK_ERROR_LIST(PRLK_ERROR_ENUM_ENTRY_) };
#undef PRLK_ERROR_ENUM_ENTRY_

#endif
